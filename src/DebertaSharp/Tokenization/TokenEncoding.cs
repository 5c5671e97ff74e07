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

    /// <summary>Number of tokens removed by truncation (HF <c>num_truncated_tokens</c>).</summary>
    public int NumTruncatedTokens { get; init; }

    /// <summary>Number of tokens, padding included.</summary>
    public int Length => InputIds.Count;
}
