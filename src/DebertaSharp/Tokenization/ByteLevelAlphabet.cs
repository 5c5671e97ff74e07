namespace DebertaSharp.Tokenization;

/// <summary>
/// GPT-2's <c>bytes_to_unicode</c>: every byte as a printable character (printable Latin-1 bytes map to themselves,
/// the others to U+0100 onwards), so that byte-level BPE pieces are strings ("Ġ" is the space byte).
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = Build();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, (byte)b)).ToDictionary(x => x.c, x => x.Item2);

    /// <summary>The character standing for <paramref name="b"/>.</summary>
    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>Appends the bytes a byte-level string stands for; characters outside the alphabet are kept as UTF-8.</summary>
    public static void Decode(string piece, List<byte> output)
    {
        Span<byte> buffer = stackalloc byte[4];
        for (int i = 0; i < piece.Length; i++)
        {
            if (CharToByte.TryGetValue(piece[i], out byte b))
            {
                output.Add(b);
                continue;
            }

            int units = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]) ? 2 : 1;
            int written = System.Text.Encoding.UTF8.GetBytes(piece.AsSpan(i, units), buffer);
            for (int j = 0; j < written; j++)
            {
                output.Add(buffer[j]);
            }

            i += units - 1;
        }
    }

    private static char[] Build()
    {
        var table = new char[256];
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)(256 + extra++);
        }

        return table;
    }
}
