namespace DebertaSharp.Pipelines;

/// <summary>What turns a classifier's logits into scores (HF <c>function_to_apply</c>).</summary>
public enum ClassificationFunction
{
    /// <summary>Softmax over the labels: exactly one label is true.</summary>
    Softmax,

    /// <summary>Sigmoid per label: labels are independent (multi-label) or there is a single label.</summary>
    Sigmoid,

    /// <summary>The raw logits (regression).</summary>
    None,
}

/// <summary>Per-call settings of <see cref="TextClassificationPipeline"/>.</summary>
public sealed record TextClassificationOptions
{
    /// <summary>The defaults: best label only, function chosen from the model's configuration.</summary>
    public static TextClassificationOptions Default { get; } = new();

    /// <summary>How many labels to return, best first (HF <c>top_k</c>, default 1); <c>null</c> returns every label.</summary>
    public int? TopK { get; init; } = 1;

    /// <summary>
    /// The function applied to the logits; <c>null</c> follows HF: none for <c>problem_type = regression</c>, sigmoid for
    /// <c>multi_label_classification</c> or a single label, softmax otherwise.
    /// </summary>
    public ClassificationFunction? Function { get; init; }
}
