using System.Globalization;
using System.Text;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// HF's <c>do_lower_case</c> lower-casing and <c>split_by_punct</c> punctuation test against Python 3.11's
/// <c>str.lower()</c> and <c>unicodedata.category</c> (Fixtures/python-unicode, see its README.md).
/// </summary>
public class PythonUnicodeTests
{
    [Fact]
    public void PunctuationIsPythonsForEveryCodePoint()
    {
        var expected = new HashSet<int>();
        foreach (string line in File.ReadLines(Path.Combine(GoldenData.Folder("python-unicode"), "punctuation.txt")))
        {
            string[] parts = line.Split(' ');
            int first = int.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            int last = int.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            for (int cp = first; cp <= last; cp++)
            {
                expected.Add(cp);
            }
        }

        Assert.Equal(828, expected.Count);
        var wrong = new List<string>();
        for (int cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            if (DebertaV2Tokenizer.IsPunctuation(new Rune(cp)) != expected.Contains(cp))
            {
                wrong.Add($"U+{cp:X4}: Python {expected.Contains(cp)}");
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} code points differ:\n" + string.Join("\n", wrong.Take(50)));
    }

    [Fact]
    public void EveryCodePointLowersAsPython()
    {
        var expected = new Dictionary<int, string>();
        foreach (string line in File.ReadLines(Path.Combine(GoldenData.Folder("python-unicode"), "lower.txt")))
        {
            string[] parts = line.Split(' ');
            expected[int.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture)] = string.Concat(
                parts.Skip(1).Select(p => char.ConvertFromUtf32(int.Parse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture))));
        }

        Assert.Equal(1433, expected.Count);
        var lower = new PythonLowerCase([]);
        var wrong = new List<string>();
        for (int cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            string c = char.ConvertFromUtf32(cp);
            string want = expected.TryGetValue(cp, out string? l) ? l : c;
            string got = lower.Apply(c, out _);
            if (got != want)
            {
                wrong.Add($"U+{cp:X4}: Python {Hex(want)}, here {Hex(got)}");
            }
        }

        Assert.True(wrong.Count == 0, $"{wrong.Count} code points differ:\n" + string.Join("\n", wrong.Take(50)));
    }

    [Fact]
    public void DottedCapitalIExpandsAndKeepsOffsetsIntoTheInput()
    {
        var lower = new PythonLowerCase(["[MASK]"]);
        string result = lower.Apply("aİ[MASK]Σ😀", out int[]? origin);

        // No final-sigma rule: HF lower-cases one character at a time. Protected tokens stay as written.
        Assert.Equal("ai\u0307[MASK]σ😀", result);
        Assert.Equal([0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], origin!);
        Assert.Equal("abc[MASK]", lower.Apply("ABC[MASK]", out int[]? same));
        Assert.Null(same);
    }

    [Fact]
    public void LowerCasingTokenizerSpansOriginalCharacters()
    {
        var tokenizer = AutoTokenizer.FromPretrained(GoldenData.Folder(TokenizerRealGoldenTests.AlbertLower));
        string text = "İstanbul [MASK] ΟΔΥΣΣΕΥΣ";
        TokenEncoding e = tokenizer.Encode(text);
        for (int i = 0; i < e.Length; i++)
        {
            if (e.SequenceIds[i] is null)
            {
                continue;
            }

            (int start, int end) = (e.Offsets[i].Start, e.Offsets[i].End);
            Assert.InRange(start, 0, text.Length);
            Assert.InRange(end, start, text.Length);
        }

        // The first piece covers 'İ' of the input (the tokenizer saw 'i' + U+0307 there).
        Assert.Equal(0, e.Offsets[1].Start);
        Assert.Contains(e.Tokens, t => t == "[MASK]");
    }

    private static string Hex(string s)
    {
        var sb = new StringBuilder();
        foreach (Rune r in s.EnumerateRunes())
        {
            sb.Append(CultureInfo.InvariantCulture, $"U+{r.Value:X4} ");
        }

        return sb.ToString().Trim();
    }
}
