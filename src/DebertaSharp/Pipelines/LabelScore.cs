namespace DebertaSharp.Pipelines;

/// <summary>A label with its score (HF's <c>{label, score}</c>).</summary>
/// <param name="Label">The label: the model's <c>id2label</c> name, or a zero-shot candidate label.</param>
/// <param name="Score">Probability (softmax / sigmoid) or the raw value when no function is applied.</param>
public sealed record LabelScore(string Label, float Score);
