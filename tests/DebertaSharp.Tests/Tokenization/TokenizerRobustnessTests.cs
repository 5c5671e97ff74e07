using System.Diagnostics;
using StringBuilder = System.Text.StringBuilder;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>Arbitrary Unicode never crashes the tokenizers, and every result stays well-formed.</summary>
public class TokenizerRobustnessTests
{
    public static TheoryData<string> NastyTexts() => new(
        "\uD800",
        "lone \uD800 high and \uDC00 low surrogates \uDBFF\uDFFF",
        "\uDC00\uD800",
        "\0\u0001\u0002\u0007\u001B\u007F\u0085\u009F control",
        "\u200B\u200C\u200D\u2060\uFEFF",
        "\u2581\u2581 ▁▁▁ \u2581",
        "e\u0301\u0301\u0301 \u0308a",
        "a ´ b ˘ c ¨",
        "\uFFFD\uFFFE\uFFFF",
        "𝐀𝐁𝐂 𠀀𠀁 a𠀀b 🏳️‍🌈",
        "[MASK][MASK][CLS][SEP][PAD][UNK]",
        "[MASK",
        "\t\n\r\v\f\u001C\u001D\u001E\u001F\u00A0\u3000",
        new string(' ', 1000),
        "'''''''s't're",
        "ǅ ᾈ ﬀ ﷺ ㍻ ⅷ ①");

    [Theory]
    [MemberData(nameof(NastyTexts))]
    public void NastyTextIsEncodedWithoutCrashing(string text)
    {
        foreach (DebertaTokenizerBase tokenizer in Tokenizers.Both)
        {
            TokenEncoding e = tokenizer.Encode(text, text);
            AssertWellFormed(e, text, text);
            _ = tokenizer.Decode(e.InputIds);
            _ = tokenizer.Decode(e.InputIds, skipSpecialTokens: true);
        }
    }

    [Fact]
    public void RandomCodePointsNeverCrash()
    {
        var random = new Random(1234);
        for (int round = 0; round < 200; round++)
        {
            var sb = new StringBuilder();
            int length = random.Next(0, 40);
            for (int i = 0; i < length; i++)
            {
                int kind = random.Next(6);
                sb.Append(kind switch
                {
                    0 => (char)random.Next(0, 0x80),
                    1 => (char)random.Next(0x80, 0x800),
                    2 => (char)random.Next(0xD800, 0xE000), // lone surrogates
                    3 => char.ConvertFromUtf32(random.Next(0x10000, 0x10FFFF) is int cp && cp is >= 0xD800 and < 0xE000 ? 0x1F600 : random.Next(0x10000, 0x10FFFF)),
                    4 => " ",
                    _ => (char)random.Next(0x800, 0xD800),
                });
            }

            string text = sb.ToString();
            foreach (DebertaTokenizerBase tokenizer in Tokenizers.Both)
            {
                TokenEncoding e = tokenizer.Encode(text);
                AssertWellFormed(e, text, null);
                _ = tokenizer.Decode(e.InputIds, skipSpecialTokens: true);
            }
        }
    }

    [Fact]
    public void OneMegabyteStringIsEncoded()
    {
        var random = new Random(42);
        string[] words = ["license", "the", "Software", "中文", "😀", "café", "\t", "  ", "[MASK]", "123", "don't", "\uD800", "ﬁ"];
        var sb = new StringBuilder(1 << 20);
        while (sb.Length < (1 << 20))
        {
            sb.Append(words[random.Next(words.Length)]).Append(random.Next(4) == 0 ? "" : " ");
        }

        string text = sb.ToString();
        foreach (DebertaTokenizerBase tokenizer in Tokenizers.Both)
        {
            var watch = Stopwatch.StartNew();
            TokenEncoding e = tokenizer.Encode(text);
            watch.Stop();
            AssertWellFormed(e, text, null);
            Assert.True(e.Length > 100_000);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{tokenizer.GetType().Name} took {watch.Elapsed} for 1 MB");

            TokenEncoding cut = tokenizer.Encode(text, new EncodeOptions { MaxLength = 512 });
            Assert.Equal(512, cut.Length);
        }
    }

    [Fact]
    public void OneMegabyteWordWithoutSpacesIsEncoded()
    {
        string text = string.Concat(Enumerable.Repeat("abcdefghij", 100_000));
        foreach (DebertaTokenizerBase tokenizer in Tokenizers.Both)
        {
            var watch = Stopwatch.StartNew();
            TokenEncoding e = tokenizer.Encode(text);
            AssertWellFormed(e, text, null);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{tokenizer.GetType().Name} took {watch.Elapsed} for one 1 MB word");
        }
    }

    internal static void AssertWellFormed(TokenEncoding e, string text, string? pair)
    {
        int n = e.Length;
        Assert.Equal(n, e.TokenTypeIds.Count);
        Assert.Equal(n, e.AttentionMask.Count);
        Assert.Equal(n, e.SpecialTokensMask.Count);
        Assert.Equal(n, e.Offsets.Count);
        Assert.Equal(n, e.Tokens.Count);
        Assert.Equal(n, e.SequenceIds.Count);
        for (int i = 0; i < n; i++)
        {
            TokenOffset o = e.Offsets[i];
            string source = e.SequenceIds[i] == 1 ? pair! : text;
            Assert.InRange(o.Start, 0, source.Length);
            Assert.InRange(o.End, o.Start, source.Length);
            Assert.False(string.IsNullOrEmpty(e.Tokens[i]));
        }
    }
}
