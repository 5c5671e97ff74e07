namespace DebertaSharp.Tokenization;

/// <summary>How a sequence (or pair) longer than the maximum length is cut, as HuggingFace's <c>truncation=</c>.</summary>
/// <remarks>
/// Without <see cref="EncodeOptions.ReturnOverflowingTokens"/> the cut follows HF's slow tokenizers (<c>truncate_sequences</c>;
/// a sequence too short to cut is left as it is). With it, HF's fast (Rust) tokenizers: a pair under <see cref="LongestFirst"/>
/// keeps the shorter sequence whole if it fits, else half the room each (the extra token of an odd room to the longer one),
/// and windows both; a sequence too short to cut is an error. The windows of a pair come as Rust's <c>Encoding::merge_with</c>
/// makes them: (A₀,B₀), then for each further window aᵢ of A: (aᵢ,B₀), (aᵢ,b₁), (aᵢ,b₂) …, then (A₀,b₁), (A₀,b₂) ….
/// Known differences: Rust gives the second sequence's tokens type id 0 in overflow windows (huggingface/tokenizers#1908),
/// here they have type id 1 in every window, as in the first; Rust drops the sequence ids of a truncated first sequence, here they stay 0.
/// </remarks>
public enum TruncationStrategy
{
    /// <summary>Never cut (<c>do_not_truncate</c> / <c>False</c>).</summary>
    DoNotTruncate,

    /// <summary>Remove one token at a time from the end of the longer sequence, the second one when both are equal (<c>longest_first</c> / <c>True</c>).</summary>
    LongestFirst,

    /// <summary>Cut only the first sequence; if it is too short, nothing is cut (HF only logs an error).</summary>
    OnlyFirst,

    /// <summary>Cut only the second sequence of a pair; a single sequence is never cut.</summary>
    OnlySecond,
}
