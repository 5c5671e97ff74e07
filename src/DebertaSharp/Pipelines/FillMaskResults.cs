using DebertaSharp.Tokenization;

namespace DebertaSharp.Pipelines;

/// <summary>One candidate for a <c>[MASK]</c> (HF fill-mask's <c>{score, token, token_str, sequence}</c>).</summary>
/// <param name="TokenId">The predicted token's id.</param>
/// <param name="Token">The predicted token as a vocabulary piece, e.g. <c>▁Paris</c>.</param>
/// <param name="TokenString">The piece decoded to text, e.g. <c>Paris</c> (HF <c>token_str</c>).</param>
/// <param name="Score">Probability of the token at this position (softmax over the whole vocabulary).</param>
/// <param name="Sequence">The input decoded with this token in place of the mask (other masks of the text stay <c>[MASK]</c>).</param>
public sealed record FillMaskPrediction(int TokenId, string Token, string TokenString, float Score, string Sequence);

/// <summary>The candidates for one <c>[MASK]</c> of a text, best first.</summary>
/// <param name="TokenIndex">Position of the mask in the encoded sequence (<c>[CLS]</c> is 0).</param>
/// <param name="Span">Where the mask token is written in the original text.</param>
/// <param name="Predictions">The top-k candidates, highest score first.</param>
public sealed record MaskPredictions(int TokenIndex, TokenOffset Span, IReadOnlyList<FillMaskPrediction> Predictions);

/// <summary>Per-call settings of <see cref="FillMaskPipeline"/>.</summary>
public sealed record FillMaskOptions
{
    /// <summary>The defaults: top 5, whole vocabulary.</summary>
    public static FillMaskOptions Default { get; } = new();

    /// <summary>How many candidates per mask (HF <c>top_k</c>, default 5).</summary>
    public int TopK { get; init; } = 5;

    /// <summary>
    /// Only score these candidates (HF <c>targets</c>): each is a vocabulary piece (<c>▁Paris</c>) or a text that
    /// tokenizes to exactly one piece (<c>Paris</c>). <c>null</c> scores the whole vocabulary.
    /// </summary>
    public IReadOnlyList<string>? Targets { get; init; }
}
