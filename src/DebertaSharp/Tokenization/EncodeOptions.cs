namespace DebertaSharp.Tokenization;

/// <summary>Arguments of <see cref="DebertaTokenizerBase.Encode(string, string?, EncodeOptions?)"/> and the batch methods, named after HuggingFace's.</summary>
public sealed record EncodeOptions
{
    /// <summary>The defaults: special tokens added, no truncation, no padding.</summary>
    public static EncodeOptions Default { get; } = new();

    /// <summary>Add <c>[CLS] … [SEP]</c> (and <c>… [SEP]</c> for the pair). Default <c>true</c>.</summary>
    public bool AddSpecialTokens { get; init; } = true;

    /// <summary>
    /// Maximum length in tokens, special tokens included (HF <c>max_length</c>). <c>null</c> uses the tokenizer's
    /// <see cref="DebertaTokenizerBase.ModelMaxLength"/> where truncation or <see cref="PaddingStrategy.MaxLength"/> need one.
    /// </summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// Truncation strategy. <c>null</c> follows HuggingFace: <see cref="TruncationStrategy.LongestFirst"/> when
    /// <see cref="MaxLength"/> is set and <see cref="Padding"/> is <see cref="PaddingStrategy.DoNotPad"/>, otherwise no truncation.
    /// </summary>
    public TruncationStrategy? Truncation { get; init; }

    /// <summary>Padding strategy. Default <see cref="PaddingStrategy.DoNotPad"/>.</summary>
    public PaddingStrategy Padding { get; init; } = PaddingStrategy.DoNotPad;

    /// <summary>Side padding goes to. Default <see cref="PaddingSide.Right"/>.</summary>
    public PaddingSide PaddingSide { get; init; } = PaddingSide.Right;

    /// <summary>The truncation strategy actually applied once HF's defaulting rule is resolved.</summary>
    public TruncationStrategy EffectiveTruncation =>
        Truncation ?? (MaxLength is not null && Padding == PaddingStrategy.DoNotPad
            ? TruncationStrategy.LongestFirst
            : TruncationStrategy.DoNotTruncate);
}
