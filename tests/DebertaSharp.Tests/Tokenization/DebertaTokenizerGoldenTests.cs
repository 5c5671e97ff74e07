using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>DebertaTokenizer against HF 4.44's DebertaTokenizer on every case of Fixtures/tokenizer-v1/expected.json.</summary>
public class DebertaTokenizerGoldenTests
{
    private const string Fixture = "tokenizer-v1";
    private static readonly Lazy<DebertaTokenizer> Tokenizer = new(() => DebertaTokenizer.FromPretrained(GoldenData.Folder(Fixture)));
    private static readonly Lazy<IReadOnlyList<GoldenCase>> AllCases = new(() => GoldenData.Cases(Fixture));
    private static readonly Lazy<IReadOnlyList<GoldenBatchExample>> AllBatches = new(() => GoldenData.BatchExamples(Fixture));

    public static TheoryData<string> CaseNames() => new(AllCases.Value.Select(c => c.Name));

    public static TheoryData<string> BatchNames() => new(AllBatches.Value.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void CaseMatchesHuggingFace(string name) =>
        GoldenAssert.Matches(Tokenizer.Value, AllCases.Value.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(BatchNames))]
    public void BatchExampleMatchesHuggingFace(string name) =>
        GoldenAssert.BatchMatches(Tokenizer.Value, AllBatches.Value.Single(c => c.Name == name));

    [Fact]
    public void EveryCaseMatches()
    {
        var failures = AllCases.Value
            .Select(c => (c.Name, Problems: GoldenAssert.Differences(Tokenizer.Value, c)))
            .Where(r => r.Problems.Count > 0)
            .Select(r => r.Name + ": " + string.Join(" | ", r.Problems))
            .ToList();
        Assert.True(failures.Count == 0, $"{failures.Count}/{AllCases.Value.Count} cases differ:\n" + string.Join("\n", failures));
        Assert.Equal(51, AllCases.Value.Count);
    }

    [Fact]
    public void EveryCaseMatchesWithTheLongWordMerger()
    {
        // Route every pre-token through ByteLevelBpeMerger (normally only words over 256 bytes).
        DebertaTokenizer tokenizer = DebertaTokenizer.FromPretrained(GoldenData.Folder(Fixture));
        tokenizer.LongWordBytes = 0;
        var failures = AllCases.Value
            .Select(c => (c.Name, Problems: GoldenAssert.Differences(tokenizer, c)))
            .Where(r => r.Problems.Count > 0)
            .Select(r => r.Name + ": " + string.Join(" | ", r.Problems))
            .ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
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
        DebertaTokenizer t = Tokenizer.Value;
        Assert.Equal(2261, t.VocabularySize);
        Assert.Equal((0, 1, 2, 3, 2260), (t.PadTokenId, t.ClsTokenId, t.SepTokenId, t.UnkTokenId, t.MaskTokenId!.Value));
        Assert.True(t.Mask!.LStrip);
        Assert.Null(t.ModelMaxLength);
    }
}
