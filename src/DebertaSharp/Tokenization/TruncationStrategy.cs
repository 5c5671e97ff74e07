namespace DebertaSharp.Tokenization;

/// <summary>How a sequence (or pair) longer than the maximum length is cut, as HuggingFace's <c>truncation=</c>.</summary>
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
