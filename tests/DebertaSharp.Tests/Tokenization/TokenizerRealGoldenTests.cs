using System.Text.Json;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// Published vocabularies against HF 4.44's slow tokenizers (Fixtures/tokenizer-real, see its README.txt): ALBERT's 30k
/// unigram spm.model (bos/eos −1) with and without <c>do_lower_case</c>, and GPT-2's 50k BPE in DeBERTa v1 layout,
/// 3,000 (1,500) generated strings each plus truncation/padding batches.
/// </summary>
public class TokenizerRealGoldenTests
{
    public const string Albert = "tokenizer-real/albert30k";
    public const string AlbertLower = "tokenizer-real/albert30k-lower";
    public const string Gpt2 = "tokenizer-real/gpt2-50k";

    private static readonly string[] Fixtures = [Albert, AlbertLower, Gpt2];

    private static readonly Dictionary<string, Lazy<DebertaTokenizerBase>> Tokenizers = Fixtures.ToDictionary(
        f => f, f => new Lazy<DebertaTokenizerBase>(() => AutoTokenizer.FromPretrained(GoldenData.Folder(f))));

    private static readonly Dictionary<string, Lazy<IReadOnlyList<GoldenBatchExample>>> Batches = Fixtures.ToDictionary(
        f => f, f => new Lazy<IReadOnlyList<GoldenBatchExample>>(() => GoldenData.BatchExamples(f)));

    public static TheoryData<string, string> BatchNames()
    {
        var data = new TheoryData<string, string>();
        foreach (string fixture in Fixtures)
            foreach (GoldenBatchExample x in Batches[fixture].Value) data.Add(fixture, x.Name);
        return data;
    }

    /// <summary>Every case at once; a failure lists each differing case with its whole text and both id lists.</summary>
    [Theory]
    [InlineData(Albert, 3000)]
    [InlineData(AlbertLower, 1500)]
    [InlineData(Gpt2, 3000)]
    public void EveryCaseMatchesHuggingFace(string fixture, int caseCount)
    {
        IReadOnlyList<GoldenCase> cases = GoldenData.Cases(fixture);
        DebertaTokenizerBase tokenizer = Tokenizers[fixture].Value;
        var failures = new List<string>();
        foreach (GoldenCase c in cases)
        {
            List<string> problems = GoldenAssert.Differences(tokenizer, c);
            if (problems.Count > 0)
            {
                string text = JsonSerializer.Serialize(c.Text) + (c.TextPair is null ? "" : " + " + JsonSerializer.Serialize(c.TextPair));
                failures.Add($"{c.Name} text {text}:\n  " + string.Join("\n  ", problems));
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count}/{cases.Count} cases differ:\n" + string.Join("\n", failures.Take(25)));
        Assert.Equal(caseCount, cases.Count);
    }

    [Theory]
    [MemberData(nameof(BatchNames))]
    public void BatchExampleMatchesHuggingFace(string fixture, string name) =>
        GoldenAssert.BatchMatches(Tokenizers[fixture].Value, Batches[fixture].Value.Single(x => x.Name == name));

    [Theory]
    [InlineData(Albert)]
    [InlineData(Gpt2)]
    public void BatchOnAllCoresEqualsOneByOneAndNamesTheFirstBadText(string fixture)
    {
        DebertaTokenizerBase tokenizer = Tokenizers[fixture].Value;
        List<string> texts = GoldenData.Cases(fixture).Take(300).Select(c => c.Text).ToList();
        BatchEncoding batch = tokenizer.EncodeBatch(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            Assert.Equal(tokenizer.Encode(texts[i]).InputIds, batch.Encodings[i].InputIds);
        }

        var broken = texts.Select((t, i) => i is 170 or 250 ? null! : t).ToList();
        var ex = Assert.Throws<TokenizerException>(() => tokenizer.EncodeBatch(broken));
        Assert.Contains("texts[170]", ex.Message);
    }

    [Fact]
    public void AlbertVocabularyResolvesAsHuggingFace()
    {
        var t = (DebertaV2Tokenizer)Tokenizers[Albert].Value;
        Assert.Equal(30000, t.PieceCount);
        Assert.Equal(30002, t.VocabularySize);
        Assert.Equal((2, 3, 30000, 30001, 4), (t.ClsTokenId, t.SepTokenId, t.UnkTokenId, t.PadTokenId, t.MaskTokenId!.Value));
    }
}
