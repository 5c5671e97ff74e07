namespace DebertaSharp.Tokenization;

/// <summary>
/// A half-open span <c>[Start, End)</c> of UTF-16 code units in the original string a token came from
/// (the first text or the pair text, see <see cref="TokenEncoding.SequenceIds"/>). Special tokens added by the
/// template and padding get <c>(0, 0)</c>, as HuggingFace fast tokenizers report them.
/// </summary>
/// <param name="Start">Index of the first UTF-16 code unit covered by the token.</param>
/// <param name="End">Index one past the last UTF-16 code unit covered by the token.</param>
public readonly record struct TokenOffset(int Start, int End)
{
    /// <summary>Number of UTF-16 code units covered (0 for special tokens and for a bare dummy-prefix piece).</summary>
    public int Length => End - Start;
}
