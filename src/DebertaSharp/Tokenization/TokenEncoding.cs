namespace DebertaSharp.Tokenization;

/// <summary>
/// One encoded input (a text or a text pair), the fields HuggingFace returns with
/// <c>return_offsets_mapping=True, return_special_tokens_mask=True</c>. All lists have the same length.
/// </summary>
/// <remarks>Called <c>Encoding</c> in HuggingFace tokenizers; renamed so it does not clash with <c>System.Text.Encoding</c>.</remarks>
public sealed record TokenEncoding
{
    /// <summary>Token ids, special tokens and padding included (<c>input_ids</c>).</summary>
    public required IReadOnlyList<int> InputIds { get; init; }

    /// <summary>0 for <c>[CLS] A [SEP]</c>, 1 for <c>B [SEP]</c>, 0 for padding (<c>token_type_ids</c>).</summary>
    public required IReadOnlyList<int> TokenTypeIds { get; init; }

    /// <summary>1 for real tokens, 0 for padding (<c>attention_mask</c>).</summary>
    public required IReadOnlyList<int> AttentionMask { get; init; }

    /// <summary>
    /// 1 for every token whose id is a special token's (template <c>[CLS]</c>/<c>[SEP]</c>, padding, and also a <c>[MASK]</c>
    /// written in the text or the <c>[UNK]</c> of an unknown character), 0 otherwise (<c>special_tokens_mask</c>, as in the golden HF outputs).
    /// </summary>
    public required IReadOnlyList<int> SpecialTokensMask { get; init; }

    /// <summary>Character spans into the original text (or pair text, see <see cref="SequenceIds"/>); <c>(0, 0)</c> for template tokens and padding.</summary>
    public required IReadOnlyList<TokenOffset> Offsets { get; init; }

    /// <summary>Token strings (pieces), as HF's <c>tokenize()</c> plus the template and padding tokens.</summary>
    public required IReadOnlyList<string> Tokens { get; init; }

    /// <summary>0 for tokens of the first text, 1 for tokens of the pair text, <c>null</c> for template tokens and padding.</summary>
    public required IReadOnlyList<int?> SequenceIds { get; init; }

    /// <summary>
    /// For input given as words (<see cref="DebertaTokenizerBase.EncodeWords"/>, HF <c>is_split_into_words=True</c>): the index
    /// of the word each token comes from within its sequence, <c>null</c> for template tokens and padding (HF <c>word_ids()</c>).
    /// <c>null</c> as a whole when the input was plain text.
    /// </summary>
    public IReadOnlyList<int?>? WordIds { get; init; }

    /// <summary>
    /// For each token, its index among the tokens of its own sequence before truncation (the pieces <see cref="DebertaTokenizerBase.Tokenize"/>
    /// returns), <c>null</c> for template tokens and padding: it places an overflow window in the whole text.
    /// <c>null</c> as a whole for encodings not made by <see cref="DebertaTokenizerBase"/>.
    /// </summary>
    public IReadOnlyList<int?>? SourceTokenIndices { get; init; }

    /// <summary>
    /// The further windows when encoded with <see cref="EncodeOptions.ReturnOverflowingTokens"/> (HF fast tokenizers'
    /// <c>overflowing</c>): full encodings of the tokens truncation cut from this one, in HF's order; empty otherwise.
    /// </summary>
    public IReadOnlyList<TokenEncoding> Overflowing { get; init; } = [];

    /// <summary>Number of tokens removed by truncation (HF <c>num_truncated_tokens</c>): the tokens of the input not in this encoding.</summary>
    public int NumTruncatedTokens { get; init; }

    /// <summary>
    /// Number of tokens, padding included: HF's <c>length</c> of <c>return_length=True</c> as HF's fast tokenizers report it
    /// (<c>len(input_ids)</c> after padding; HF's slow tokenizers report the unpadded length in batches).
    /// </summary>
    public int Length => InputIds.Count;
}
