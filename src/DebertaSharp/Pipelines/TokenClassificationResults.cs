namespace DebertaSharp.Pipelines;

/// <summary>How token predictions become entities (HF <c>aggregation_strategy</c>).</summary>
public enum AggregationStrategy
{
    /// <summary>
    /// One result per token, with its own label (HF <c>entity</c>). A bare <c>▁</c> piece, which covers only
    /// whitespace, has no text and gives no result (here and in <see cref="Simple"/>; the word strategies count it with its word).
    /// </summary>
    None,

    /// <summary>Per-token labels, then adjacent tokens of the same entity type merged (B-/I- aware).</summary>
    Simple,

    /// <summary>Each word takes the label of its first token, then words are merged as in <see cref="Simple"/>.</summary>
    First,

    /// <summary>Each word takes the label of its tokens' averaged scores, then words are merged.</summary>
    Average,

    /// <summary>Each word takes the label of its single most confident token, then words are merged.</summary>
    Max,
}

/// <summary>
/// A recognised token or entity. <see cref="Start"/>/<see cref="End"/> index the original text and
/// <see cref="Word"/> is exactly <c>text[Start..End]</c> (HF decodes tokens instead; the whitespace a
/// <c>▁</c> piece stands for is left out of the span).
/// </summary>
/// <param name="Entity">The label (<see cref="AggregationStrategy.None"/>, e.g. <c>B-PER</c>) or the entity type without B-/I- (HF <c>entity_group</c>, e.g. <c>PER</c>).</param>
/// <param name="Score">The label's probability; for a group, the mean over its tokens or words.</param>
/// <param name="Word">The text the entity covers.</param>
/// <param name="Start">Index of its first character in the original text.</param>
/// <param name="End">Index one past its last character.</param>
/// <param name="TokenIndex">With <see cref="AggregationStrategy.None"/>, the token's position in the encoded text (<c>[CLS]</c> = 0); <c>null</c> for groups.</param>
public sealed record TokenEntity(string Entity, float Score, string Word, int Start, int End, int? TokenIndex);

/// <summary>Per-call settings of <see cref="TokenClassificationPipeline"/>.</summary>
public sealed record TokenClassificationOptions
{
    /// <summary>The defaults: no aggregation, <c>O</c> ignored, stride 32 for long texts.</summary>
    public static TokenClassificationOptions Default { get; } = new();

    /// <summary>How tokens become entities (default <see cref="AggregationStrategy.None"/>, as HF).</summary>
    public AggregationStrategy Aggregation { get; init; } = AggregationStrategy.None;

    /// <summary>Labels (or entity groups) left out of the results (HF <c>ignore_labels</c>, default <c>["O"]</c>).</summary>
    public IReadOnlyList<string> IgnoreLabels { get; init; } = ["O"];

    /// <summary>
    /// A text longer than the model takes is cut into windows sharing this many tokens; each token is labelled by the
    /// window in which it has the most context on both sides. Default 32 (capped at half a window).
    /// </summary>
    public int Stride { get; init; } = 32;
}
