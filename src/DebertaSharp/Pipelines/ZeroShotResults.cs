namespace DebertaSharp.Pipelines;

/// <summary>The candidate labels of one sequence ranked by score (HF zero-shot's <c>{sequence, labels, scores}</c>).</summary>
/// <param name="Sequence">The classified text.</param>
/// <param name="Labels">Every candidate label with its score, best first.</param>
public sealed record ZeroShotResult(string Sequence, IReadOnlyList<LabelScore> Labels);

/// <summary>Per-call settings of <see cref="ZeroShotClassificationPipeline"/>.</summary>
public sealed record ZeroShotOptions
{
    /// <summary>HF's default hypothesis, <c>This example is {}.</c></summary>
    public const string DefaultHypothesisTemplate = "This example is {}.";

    /// <summary>The defaults: HF's template, one true label.</summary>
    public static ZeroShotOptions Default { get; } = new();

    /// <summary>The hypothesis each label is put into; <c>{}</c> marks where the label goes.</summary>
    public string HypothesisTemplate { get; init; } = DefaultHypothesisTemplate;

    /// <summary>
    /// <c>false</c> (default): exactly one label is true, the entailment logits are soft-maxed over the labels (scores
    /// sum to 1). <c>true</c>: each label on its own, softmax of its entailment vs. contradiction logits.
    /// </summary>
    public bool MultiLabel { get; init; }
}
