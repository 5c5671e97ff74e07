namespace DebertaSharp.Tokenization;

/// <summary>Arguments of <see cref="DebertaTokenizerBase.Encode(string, string?, EncodeOptions?)"/> and the batch methods, named after HuggingFace's.</summary>
/// <remarks>
/// HF's <c>return_special_tokens_mask</c>, <c>return_offsets_mapping</c> and <c>return_length</c> have no flag here:
/// <see cref="TokenEncoding"/> always carries <see cref="TokenEncoding.SpecialTokensMask"/>, <see cref="TokenEncoding.Offsets"/>
/// and <see cref="TokenEncoding.Length"/>. For HF's <c>is_split_into_words=True</c> call
/// <see cref="DebertaTokenizerBase.EncodeWords"/> / <see cref="DebertaTokenizerBase.EncodeWordsBatch"/>.
/// </remarks>
public sealed record EncodeOptions
{
    /// <summary>The defaults: special tokens added, no truncation, no padding.</summary>
    public static EncodeOptions Default { get; } = new();

    /// <summary>Add <c>[CLS] … [SEP]</c> (and <c>… [SEP]</c> for the pair). Default <c>true</c>. Without them <see cref="MaxLength"/> counts only text tokens.</summary>
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

    /// <summary>Which end truncation cuts (HF <c>truncation_side</c>). Default <see cref="TruncationSide.Right"/>.</summary>
    public TruncationSide TruncationSide { get; init; } = TruncationSide.Right;

    /// <summary>
    /// Tokens shared by consecutive overflow windows (HF <c>stride</c>); only used with <see cref="ReturnOverflowingTokens"/>.
    /// Must be smaller than the tokens a window leaves for the truncated sequence. Default 0.
    /// </summary>
    public int Stride { get; init; }

    /// <summary>
    /// Return the tokens truncation cuts as further encodings (HF <c>return_overflowing_tokens</c>), with the semantics of
    /// HF's fast (Rust) tokenizers, which HF's QA and NER pipelines require: every window is a full encoding with the
    /// special tokens, consecutive windows of a sequence share <see cref="Stride"/> tokens, the last window ends at the
    /// sequence's end. <see cref="TokenEncoding.Overflowing"/> holds the windows after the first; a batch lists all windows
    /// with <see cref="BatchEncoding.OverflowToSampleMapping"/>. For pairs the windows come in the Rust order (see
    /// <see cref="TruncationStrategy"/>). HF's slow tokenizers return one list of cut ids instead; that form is not offered.
    /// </summary>
    public bool ReturnOverflowingTokens { get; init; }

    /// <summary>Padding strategy. Default <see cref="PaddingStrategy.DoNotPad"/>.</summary>
    public PaddingStrategy Padding { get; init; } = PaddingStrategy.DoNotPad;

    /// <summary>Side padding goes to. Default <see cref="PaddingSide.Right"/>.</summary>
    public PaddingSide PaddingSide { get; init; } = PaddingSide.Right;

    /// <summary>
    /// Round the padded length up to a multiple of this (HF <c>pad_to_multiple_of</c>); needs a padding strategy other
    /// than <see cref="PaddingStrategy.DoNotPad"/>. With <see cref="PaddingStrategy.Longest"/> a single encoding is padded too. <c>null</c> for none.
    /// </summary>
    public int? PadToMultipleOf { get; init; }

    /// <summary>The truncation strategy actually applied once HF's defaulting rule is resolved.</summary>
    public TruncationStrategy EffectiveTruncation =>
        Truncation ?? (MaxLength is not null && Padding == PaddingStrategy.DoNotPad
            ? TruncationStrategy.LongestFirst
            : TruncationStrategy.DoNotTruncate);
}
