namespace DebertaSharp.Tokenization;

/// <summary>
/// The pieces of one sequence before truncation and the template: with the word of each piece for input split into
/// words, and each piece's index in the original sequence when it came from an earlier encoding (else its position).
/// </summary>
internal sealed class PieceSequence(List<TokenPiece> pieces, int?[]? words, int?[]? sources)
{
    public List<TokenPiece> Pieces { get; } = pieces;

    public int?[]? Words { get; } = words;

    public int?[]? Sources { get; } = sources;

    public int Count => Pieces.Count;

    /// <summary>The pieces of an encoding made without special tokens, truncation or padding (the input of <c>PrepareForModel</c>).</summary>
    public static PieceSequence From(TokenEncoding encoding, string argumentName)
    {
        if (encoding is null)
        {
            throw new TokenizerException($"The input {argumentName} is null.");
        }

        if (encoding.Overflowing.Count > 0 || encoding.SequenceIds.Any(s => s is null) || encoding.AttentionMask.Any(m => m == 0))
        {
            throw new TokenizerException(
                $"The input {argumentName} has template tokens, padding or overflow windows; encode it with AddSpecialTokens = false, without truncation and padding.");
        }

        var pieces = new List<TokenPiece>(encoding.Length);
        for (int i = 0; i < encoding.Length; i++)
        {
            pieces.Add(new TokenPiece(encoding.InputIds[i], encoding.Tokens[i], encoding.Offsets[i].Start, encoding.Offsets[i].End));
        }

        return new PieceSequence(pieces, encoding.WordIds?.ToArray(), encoding.SourceTokenIndices?.ToArray());
    }
}
