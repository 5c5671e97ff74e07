namespace DebertaSharp.Tokenization;

/// <summary>
/// A token matched verbatim in the input before the model's own tokenization runs, as HuggingFace's
/// <c>AddedToken</c>: the special tokens (<c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c>, <c>[UNK]</c>, <c>[MASK]</c>) and any
/// token listed in <c>added_tokens_decoder</c> / <c>added_tokens.json</c>.
/// </summary>
/// <param name="Content">The literal text that is matched in the input.</param>
/// <param name="Id">The id the token maps to (may lie outside the model vocabulary, as deberta-v3's <c>[MASK]</c>).</param>
public sealed record AddedToken(string Content, int Id)
{
    /// <summary>Whitespace before the token is removed from the preceding text (HF <c>lstrip</c>).</summary>
    public bool LStrip { get; init; }

    /// <summary>Whitespace after the token is removed from the following text (HF <c>rstrip</c>).</summary>
    public bool RStrip { get; init; }

    /// <summary>Only matched as a whole word (HF <c>single_word</c>).</summary>
    public bool SingleWord { get; init; }

    /// <summary>HF's <c>normalized</c> flag; kept for round-tripping, slow HF tokenizers ignore it when splitting.</summary>
    public bool Normalized { get; init; }

    /// <summary>Whether the token is special (skipped by <c>Decode(..., skipSpecialTokens: true)</c> when it is one of the named special tokens).</summary>
    public bool Special { get; init; }
}
