using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>DebertaTokenizer facts of Fixtures/tokenizer-v1 beyond the shared cases of <see cref="TokenizerGoldenTests"/>.</summary>
public class DebertaTokenizerGoldenTests
{
    private const string Fixture = TokenizerGoldenTests.V1;

    [Fact]
    public void EveryCaseMatchesWithTheLongWordMerger()
    {
        // Route every pre-token through ByteLevelBpeMerger (normally only words over 256 bytes).
        DebertaTokenizer tokenizer = DebertaTokenizer.FromPretrained(GoldenData.Folder(Fixture));
        tokenizer.LongWordBytes = 0;
        GoldenAssert.AllMatch(tokenizer, TokenizerGoldenTests.CasesOf(Fixture));
    }

    [Fact]
    public void LongWordMergerAgreesWithMlTokenizersOnRandomWords()
    {
        DebertaTokenizer viaMerger = DebertaTokenizer.FromPretrained(GoldenData.Folder(Fixture));
        viaMerger.LongWordBytes = 0;
        DebertaTokenizer viaMl = DebertaTokenizer.FromPretrained(GoldenData.Folder(Fixture));
        viaMl.LongWordBytes = int.MaxValue;
        var random = new Random(7);
        const string alphabet = "aaaabbcdeeeefghiiilmnooopqrsssttuuvwxyz0123456789 .,'-é中😀";
        for (int i = 0; i < 300; i++)
        {
            string text = new(Enumerable.Range(0, random.Next(1, 300)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            text = text.Replace("\uD83D", "x", StringComparison.Ordinal).Replace("\uDE00", "y", StringComparison.Ordinal);
            Assert.Equal(viaMl.Encode(text).InputIds, viaMerger.Encode(text).InputIds);
            Assert.Equal(viaMl.Encode(text).Offsets, viaMerger.Encode(text).Offsets);
        }
    }

    [Fact]
    public void VocabularyMatchesHuggingFace()
    {
        DebertaTokenizer t = TokenizerGoldenTests.Tokenizer<DebertaTokenizer>(Fixture);
        Assert.Equal(2261, t.VocabularySize);
        Assert.Equal((0, 1, 2, 3, 2260), (t.PadTokenId, t.ClsTokenId, t.SepTokenId, t.UnkTokenId, t.MaskTokenId!.Value));
        Assert.True(t.Mask!.LStrip);
        Assert.Null(t.ModelMaxLength);
    }
}
