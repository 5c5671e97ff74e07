using System.Globalization;
using DebertaSharp.Tokenization;
using Xunit;
using StringBuilder = System.Text.StringBuilder;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>Offsets point into the original string: the text under each span, normalized as the tokenizer does, is the token.</summary>
public class OffsetTests
{
    public static TheoryData<string> Texts() => new(
        GoldenData.Cases("tokenizer-v3").Concat(GoldenData.Cases("tokenizer-v1")).Select(c => c.Text)
            .Concat(["  Ｆｕｌｌ ｗｉｄｔｈ\u3000ｔｅｘｔ  ", "a\u0301b ﬁne ﬂow", "Straße ǅemal №5 ½ ㎏", "tab\tnew\nline\r\n  end ", "𠀀 𝐀𝐁 😀x"])
            .Distinct());

    [Theory]
    [MemberData(nameof(Texts))]
    public void SentencePieceSpansNormalizeToTheirPieces(string text)
    {
        TokenEncoding e = Tokenizers.V3.Encode(text);
        for (int i = 0; i < e.Length; i++)
        {
            if (e.SequenceIds[i] is null || e.InputIds[i] == Tokenizers.V3.UnkTokenId && e.Tokens[i] == "[UNK]")
            {
                continue;
            }

            TokenOffset o = e.Offsets[i];
            string surface = SpmNormalize(text.Substring(o.Start, o.Length));
            string piece = e.Tokens[i];
            if (e.Tokens[i].StartsWith('\u2581') && (surface.Length == 0 || surface[0] != '\u2581'))
            {
                piece = piece[1..]; // the dummy prefix '▁' has no source text
            }

            // A character that normalizes to several (ﬁ → fi, ǅ → Dž) can be shared by consecutive pieces: sentencepiece
            // gives the character to the last of them, so the earlier ones cover less than their piece (maybe nothing)
            // and the last one's surface ends with its piece.
            bool sharedWithNext = i + 1 < e.Length && e.SequenceIds[i + 1] is not null && e.Offsets[i + 1].Start == o.End;
            bool ok = surface == piece || (surface.Length > piece.Length && surface.EndsWith(piece, StringComparison.Ordinal)) ||
                      (sharedWithNext && piece.StartsWith(surface, StringComparison.Ordinal));
            Assert.True(ok, $"token {i} '{e.Tokens[i]}' at ({o.Start},{o.End}) covers '{text.Substring(o.Start, o.Length)}' → '{surface}'");
        }
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void ByteLevelSpansHoldTheirBytes(string text)
    {
        TokenEncoding e = Tokenizers.V1.Encode(text);
        for (int i = 0; i < e.Length; i++)
        {
            if (e.SequenceIds[i] is null)
            {
                continue;
            }

            TokenOffset o = e.Offsets[i];
            string source = text.Substring(o.Start, o.Length);
            if (Tokenizers.V1.AddedTokens.Any(t => t.Id == e.InputIds[i]))
            {
                Assert.Equal(e.Tokens[i], source);
                continue;
            }

            var pieceBytes = new List<byte>();
            foreach (char c in e.Tokens[i])
            {
                pieceBytes.Add(ByteOf(c));
            }

            byte[] sourceBytes = System.Text.Encoding.UTF8.GetBytes(source);
            // Whole characters: equal bytes; part of a multi-byte character: the span is that character.
            Assert.True(
                sourceBytes.AsSpan().SequenceEqual(pieceBytes.ToArray()) || sourceBytes.AsSpan().IndexOf(pieceBytes.ToArray()) >= 0,
                $"token {i} '{e.Tokens[i]}' at ({o.Start},{o.End}) covers '{source}'");
        }
    }

    /// <summary>A rough stand-in for nmt_nfkc + whitespace handling: NFKC, controls dropped, whitespace runs → one '▁'.</summary>
    private static string SpmNormalize(string s)
    {
        string nfkc = s.Normalize(System.Text.NormalizationForm.FormKC);
        var sb = new StringBuilder();
        foreach (char c in nfkc)
        {
            bool space = char.IsWhiteSpace(c) || c is '\u200B' or '\u2581';
            if (space)
            {
                if (sb.Length == 0 || sb[^1] != '\u2581')
                {
                    sb.Append('\u2581');
                }
            }
            else if (char.GetUnicodeCategory(c) != UnicodeCategory.Control)
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static byte ByteOf(char c)
    {
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (printable && c == (char)b)
            {
                return (byte)b;
            }
        }

        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (!printable && c == (char)(256 + extra++))
            {
                return (byte)b;
            }
        }

        throw new InvalidOperationException($"'{c}' is not a byte-level symbol");
    }
}
