namespace DebertaSharp.Pipelines;

/// <summary>An answer span in the context (HF's <c>{score, start, end, answer}</c>).</summary>
/// <param name="Answer">The answer text, exactly <c>context[Start..End]</c>; empty for "no answer".</param>
/// <param name="Score">Probability of the span within its window: P(start) · P(end).</param>
/// <param name="Start">Index of the answer's first character in the context.</param>
/// <param name="End">Index one past its last character.</param>
public sealed record QuestionAnswer(string Answer, float Score, int Start, int End);

/// <summary>Per-call settings of <see cref="QuestionAnsweringPipeline"/>; defaults are HF's.</summary>
public sealed record QuestionAnsweringOptions
{
    /// <summary>The defaults.</summary>
    public static QuestionAnsweringOptions Default { get; } = new();

    /// <summary>How many answers to return, best first (HF <c>top_k</c>, default 1); fewer when the context has fewer spans.</summary>
    public int TopK { get; init; } = 1;

    /// <summary>Longest answer in tokens (HF <c>max_answer_len</c>, default 15): spans with start ≤ end &lt; start + this.</summary>
    public int MaxAnswerLength { get; init; } = 15;

    /// <summary>
    /// Length of each question + context window in tokens, special tokens included (HF <c>max_seq_len</c>);
    /// <c>null</c> = min(<see cref="Pipeline.EffectiveMaxLength"/>, 384).
    /// </summary>
    public int? MaxSequenceLength { get; init; }

    /// <summary>
    /// Context tokens shared by consecutive windows of a long context (HF <c>doc_stride</c>); <c>null</c> =
    /// min(window / 2, 128). Capped at one less than the room the question leaves for the context.
    /// </summary>
    public int? DocStride { get; init; }

    /// <summary>Also offer "no answer" (empty, scored by the <c>[CLS]</c> start/end probabilities) (HF <c>handle_impossible_answer</c>).</summary>
    public bool HandleImpossibleAnswer { get; init; }

    /// <summary>Widen answers to whole words (HF <c>align_to_words</c>, default true); otherwise token spans.</summary>
    public bool AlignToWords { get; init; } = true;
}
