using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// The options that follow HF's slow tokenizers (no overflow), checked against expectations worked out in the test
/// from the golden untruncated HF ids with HF's own rules (<c>truncate_sequences</c>, <c>_pad</c>), not by the code under test.
/// </summary>
public class EncodeOptionsSlowTests
{
    private static readonly DebertaTokenizerBase V3 = AutoTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v3"));

    private static IEnumerable<GoldenCase> Singles => GoldenData.Cases("tokenizer-v3").Where(c => c.TextPair is null);

    private static IEnumerable<GoldenCase> Pairs => GoldenData.Cases("tokenizer-v3").Where(c => c.TextPair is not null);

    // The golden [CLS] A [SEP] (B [SEP]) split back into A and B.
    private static (int[] A, int[] B) Parts(GoldenCase c) =>
        (c.InputIds.Where((_, i) => c.SequenceIds[i] == 0).ToArray(), c.InputIds.Where((_, i) => c.SequenceIds[i] == 1).ToArray());

    [Fact]
    public void LeftTruncationKeepsTheLastTokensOfASingleText()
    {
        foreach (GoldenCase c in Singles)
        {
            int[] a = Parts(c).A;
            int[] kept = a.Length > 6 ? a[^6..] : a;
            int[] expected = [1, .. kept, 2];
            TokenEncoding e = V3.Encode(c.Text, new EncodeOptions { MaxLength = 8, TruncationSide = TruncationSide.Left });
            Assert.True(expected.SequenceEqual(e.InputIds), c.Name);
            Assert.Equal(a.Length - kept.Length, e.NumTruncatedTokens);
        }
    }

    [Fact]
    public void LongestFirstPairTruncationOnTheLeftRemovesOneTokenAtATimeFromTheLongerSequence()
    {
        foreach (GoldenCase c in Pairs)
        {
            var (a, b) = Parts(c);
            List<int> x = [.. a], y = [.. b];
            int limit = 9;
            for (int remove = x.Count + y.Count + 3 - limit; remove > 0; remove--)
            {
                // HF truncate_sequences, longest_first, truncation_side='left': ids[1:] when len(ids) > len(pair_ids), else pair_ids[1:].
                if (x.Count > y.Count)
                {
                    x.RemoveAt(0);
                }
                else if (y.Count > 0)
                {
                    y.RemoveAt(0);
                }
            }

            int[] expected = [1, .. x, 2, .. y, 2];
            TokenEncoding e = V3.Encode(c.Text, c.TextPair, new EncodeOptions { MaxLength = limit, TruncationSide = TruncationSide.Left });
            Assert.True(expected.SequenceEqual(e.InputIds), c.Name);
        }
    }

    [Fact]
    public void PadToMultipleOfRoundsTheLongestUpAndPadsASingleTextToo()
    {
        GoldenCase[] cases = Singles.Take(6).ToArray();
        BatchEncoding batch = V3.EncodeBatch(cases.Select(c => c.Text).ToArray(), new EncodeOptions { Padding = PaddingStrategy.Longest, PadToMultipleOf = 8 });
        int longest = cases.Max(c => c.InputIds.Length);
        int target = (longest + 7) / 8 * 8;
        for (int i = 0; i < cases.Length; i++)
        {
            int[] expected = [.. cases[i].InputIds, .. Enumerable.Repeat(0, target - cases[i].InputIds.Length)];
            Assert.Equal(expected, batch.Encodings[i].InputIds);
            Assert.Equal(target, batch.Encodings[i].Length);     // HF fast return_length: len(input_ids) after padding
        }

        GoldenCase one = cases[0];
        TokenEncoding single = V3.Encode(one.Text, new EncodeOptions { Padding = PaddingStrategy.Longest, PadToMultipleOf = 8 });
        Assert.Equal((one.InputIds.Length + 7) / 8 * 8, single.Length);
        TokenEncoding fixedLength = V3.Encode(one.Text, new EncodeOptions { Padding = PaddingStrategy.MaxLength, MaxLength = 10, PadToMultipleOf = 8 });
        Assert.Equal(Math.Max(16, (one.InputIds.Length + 7) / 8 * 8), fixedLength.Length);
        Assert.Throws<TokenizerException>(() => V3.Encode(one.Text, new EncodeOptions { Padding = PaddingStrategy.Longest, PadToMultipleOf = 0 }));
    }

    [Fact]
    public void WithoutSpecialTokensOnlyTheTextTokensAreLeftAndMaxLengthCountsThem()
    {
        foreach (GoldenCase c in GoldenData.Cases("tokenizer-v3"))
        {
            var (a, b) = Parts(c);
            TokenEncoding e = V3.Encode(c.Text, c.TextPair, new EncodeOptions { AddSpecialTokens = false });
            Assert.True(a.Concat(b).SequenceEqual(e.InputIds), c.Name);
            Assert.All(e.TokenTypeIds, t => Assert.Equal(0, t));      // HF types a pair without special tokens 0
            if (c.TextPair is null && a.Length > 4)
            {
                TokenEncoding cut = V3.Encode(c.Text, new EncodeOptions { AddSpecialTokens = false, MaxLength = 4 });
                Assert.Equal(a[..4], cut.InputIds);
            }
        }
    }

    [Fact]
    public void WordsOfTheBpeTokenizerGetAPrefixSpaceAsHfDoes()
    {
        DebertaTokenizerBase v1 = AutoTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v1"));
        // HF DebertaTokenizer.prepare_for_tokenization: " " + word for split input; the GPT-2 split of " Hello world!" gives the same words.
        TokenEncoding words = v1.EncodeWords(["Hello", "world!"]);
        TokenEncoding text = v1.Encode(" Hello world!");
        Assert.Equal(text.InputIds, words.InputIds);
        int n0 = v1.Tokenize(" Hello").Count, n1 = v1.Tokenize(" world!").Count;
        int?[] expected = [null, .. Enumerable.Repeat<int?>(0, n0), .. Enumerable.Repeat<int?>(1, n1), null];
        Assert.Equal(expected, words.WordIds);
        Assert.Null(text.WordIds);
    }

    [Fact]
    public void OverflowNeedsAStrideSmallerThanTheWindowAndOnlySecondNeedsAPair()
    {
        string text = Singles.OrderByDescending(c => c.InputIds.Length).First().Text;
        Assert.Throws<TokenizerException>(() => V3.Encode(text, new EncodeOptions { MaxLength = 6, Stride = 4, ReturnOverflowingTokens = true }));
        Assert.Throws<TokenizerException>(() => V3.Encode(text, new EncodeOptions { MaxLength = 6, Truncation = TruncationStrategy.OnlySecond, ReturnOverflowingTokens = true }));
        Assert.Throws<TokenizerException>(() => V3.Encode(text, new EncodeOptions { Stride = -1 }));
    }

    [Fact]
    public void PrepareForModelOfPlainPiecesGivesTheGoldenEncodingAndRefusesTemplatedInput()
    {
        var plain = new EncodeOptions { AddSpecialTokens = false };
        foreach (GoldenCase c in GoldenData.Cases("tokenizer-v3"))
        {
            TokenEncoding a = V3.Encode(c.Text, plain);
            TokenEncoding? b = c.TextPair is null ? null : V3.Encode(c.TextPair, plain);
            TokenEncoding e = V3.PrepareForModel(a, b);
            Assert.True(c.InputIds.SequenceEqual(e.InputIds), c.Name);
            Assert.True(c.TokenTypeIds.SequenceEqual(e.TokenTypeIds), c.Name);
            Assert.Equal(c.SequenceIds, e.SequenceIds);
        }

        TokenEncoding templated = V3.Encode("Hello world");
        Assert.Contains("AddSpecialTokens = false", Assert.Throws<TokenizerException>(() => V3.PrepareForModel(templated)).Message);
    }
}
