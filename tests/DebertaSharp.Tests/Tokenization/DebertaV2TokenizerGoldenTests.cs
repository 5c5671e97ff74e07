using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>DebertaV2Tokenizer against HF 4.44's DebertaV2Tokenizer on every case of Fixtures/tokenizer-v3/expected.json.</summary>
public class DebertaV2TokenizerGoldenTests
{
    private const string Fixture = "tokenizer-v3";
    private static readonly Lazy<DebertaV2Tokenizer> Tokenizer = new(() => DebertaV2Tokenizer.FromPretrained(GoldenData.Folder(Fixture)));
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
        Assert.Equal(41, AllCases.Value.Count);
    }

    [Fact]
    public void VocabularyMatchesHuggingFace()
    {
        DebertaV2Tokenizer t = Tokenizer.Value;
        Assert.Equal(1000, t.PieceCount);
        Assert.Equal(1001, t.VocabularySize);
        Assert.Equal((0, 1, 2, 3, 1000), (t.PadTokenId, t.ClsTokenId, t.SepTokenId, t.UnkTokenId, t.MaskTokenId!.Value));
        Assert.Null(t.ModelMaxLength);
        Assert.Equal("[MASK]", t.IdToToken(1000));
        Assert.Equal(1000, t.TokenToId("[MASK]"));
    }
}
