using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// Both tokenizers against HF 4.44 on every case of their fixture: DebertaTokenizer on Fixtures/tokenizer-v1,
/// DebertaV2Tokenizer on Fixtures/tokenizer-v3 (expected.json, batch examples).
/// </summary>
public class TokenizerGoldenTests
{
    public const string V1 = "tokenizer-v1";
    public const string V3 = "tokenizer-v3";

    private static readonly Dictionary<string, Lazy<DebertaTokenizerBase>> Tokenizers = new()
    {
        [V1] = new(() => DebertaTokenizer.FromPretrained(GoldenData.Folder(V1))),
        [V3] = new(() => DebertaV2Tokenizer.FromPretrained(GoldenData.Folder(V3))),
    };

    private static readonly Dictionary<string, Lazy<IReadOnlyList<GoldenCase>>> Cases = new()
    {
        [V1] = new(() => GoldenData.Cases(V1)),
        [V3] = new(() => GoldenData.Cases(V3)),
    };

    private static readonly Dictionary<string, Lazy<IReadOnlyList<GoldenBatchExample>>> Batches = new()
    {
        [V1] = new(() => GoldenData.BatchExamples(V1)),
        [V3] = new(() => GoldenData.BatchExamples(V3)),
    };

    /// <summary>The shared tokenizer of a fixture (loaded once per test run).</summary>
    public static T Tokenizer<T>(string fixture) where T : DebertaTokenizerBase => (T)Tokenizers[fixture].Value;

    /// <summary>Every case of a fixture.</summary>
    internal static IReadOnlyList<GoldenCase> CasesOf(string fixture) => Cases[fixture].Value;

    public static TheoryData<string, string> CaseNames()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in new[] { V1, V3 })
            foreach (var c in Cases[fixture].Value) data.Add(fixture, c.Name);
        return data;
    }

    public static TheoryData<string, string> BatchNames()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in new[] { V1, V3 })
            foreach (var x in Batches[fixture].Value) data.Add(fixture, x.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void CaseMatchesHuggingFace(string fixture, string name) =>
        GoldenAssert.Matches(Tokenizers[fixture].Value, Cases[fixture].Value.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(BatchNames))]
    public void BatchExampleMatchesHuggingFace(string fixture, string name) =>
        GoldenAssert.BatchMatches(Tokenizers[fixture].Value, Batches[fixture].Value.Single(x => x.Name == name));

    [Theory]
    [InlineData(V1, 51)]
    [InlineData(V3, 41)]
    public void EveryCaseMatches(string fixture, int caseCount)
    {
        GoldenAssert.AllMatch(Tokenizers[fixture].Value, Cases[fixture].Value);
        Assert.Equal(caseCount, Cases[fixture].Value.Count);
    }
}
