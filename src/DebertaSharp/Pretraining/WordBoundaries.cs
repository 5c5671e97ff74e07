namespace DebertaSharp.Pretraining;

/// <summary>Where words start in a sequence of SentencePiece or byte-level BPE pieces.</summary>
public static class WordBoundaries
{
    /// <summary>SentencePiece's word-boundary mark (U+2581), the first character of a piece that follows a space.</summary>
    public const char SentencePieceMark = '\u2581';

    /// <summary>Byte-level BPE's space (U+0120, <c>Ġ</c>), the first character of a DeBERTa-v1 piece that follows a space.</summary>
    public const char ByteLevelSpace = '\u0120';

    /// <summary>
    /// Word starts: a special token, the piece after a special token, the first piece, and every piece that begins with
    /// <see cref="SentencePieceMark"/> or <see cref="ByteLevelSpace"/>; other pieces continue the previous word.
    /// </summary>
    public static bool[] Starts(IReadOnlyList<string> pieces, IReadOnlyList<bool> special)
    {
        if (pieces.Count != special.Count)
            throw new ArgumentException($"{pieces.Count} pieces but {special.Count} special flags.", nameof(special));
        var starts = new bool[pieces.Count];
        for (int i = 0; i < pieces.Count; i++)
        {
            string p = pieces[i];
            starts[i] = i == 0 || special[i] || special[i - 1]
                        || (p.Length > 0 && (p[0] == SentencePieceMark || p[0] == ByteLevelSpace));
        }
        return starts;
    }
}
