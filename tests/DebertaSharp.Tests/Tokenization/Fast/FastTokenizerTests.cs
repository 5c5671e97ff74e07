using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization.Fast;

/// <summary>AutoTokenizer's fast/slow choice, unsupported components, truncation as tokenizers 0.19–0.22, the file's blocks.</summary>
public class FastTokenizerTests
{
    [Fact]
    public void AutoTokenizerPrefersTokenizerJsonAsPythonDoes()
    {
        using TempFolder both = TempFolder.CopyOf("tokenizer-v3");
        File.Copy(Path.Combine(FastGoldenData.Folder("v3"), "tokenizer.json"), both.File("tokenizer.json"));
        Assert.IsType<DebertaTokenizerFast>(AutoTokenizer.FromPretrained(both.Path));
        Assert.IsType<DebertaTokenizerFast>(AutoTokenizer.FromPretrained(both.Path, useFast: true));
        Assert.IsType<DebertaV2Tokenizer>(AutoTokenizer.FromPretrained(both.Path, useFast: false));

        using TempFolder v1 = TempFolder.CopyOf("tokenizer-v1");
        File.Copy(Path.Combine(FastGoldenData.Folder("v1"), "tokenizer.json"), v1.File("tokenizer.json"));
        Assert.IsType<DebertaTokenizerFast>(AutoTokenizer.FromPretrained(v1.Path));
        Assert.IsType<DebertaTokenizer>(AutoTokenizer.FromPretrained(v1.Path, useFast: false));
    }

    [Fact]
    public void TokenizerJsonOnlyFolderLoadsFastAndRefusesSlow()
    {
        DebertaTokenizerBase fast = AutoTokenizer.FromPretrained(FastGoldenData.Folder("v3"));
        Assert.IsType<DebertaTokenizerFast>(fast);
        Assert.Equal(1001, fast.VocabularySize);
        Assert.Equal(1000, fast.MaskTokenId);
        var ex = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(FastGoldenData.Folder("v3"), useFast: false));
        Assert.Contains("spm.model", ex.Message, StringComparison.Ordinal);

        // Without tokenizer_config.json / config.json the file alone decides.
        using HandmadeFolder bare = HandmadeFolder.Create("bert-wordpiece-bpe", "[CLS]", "[SEP]", "[UNK]");
        File.Delete(Path.Combine(bare.Path, "tokenizer_config.json"));
        Assert.IsType<DebertaTokenizerFast>(AutoTokenizer.FromPretrained(bare.Path));
        ex = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(bare.Path, useFast: false));
        Assert.Contains("has only tokenizer.json", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("normalizer", "{\"type\": \"NmtNormalizer\"}", "normalizer type 'NmtNormalizer'", "$.normalizer")]
    [InlineData("normalizer", "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"Nmt\"}]}", "normalizer type 'Nmt'", "$.normalizer.normalizers[1]")]
    [InlineData("pre_tokenizer", "{\"type\": \"Digits\", \"individual_digits\": true}", "pre-tokenizer type 'Digits'", "$.pre_tokenizer")]
    [InlineData("model", "{\"type\": \"WordPiece\", \"vocab\": {}}", "model type 'WordPiece'", "$.model")]
    [InlineData("post_processor", "{\"type\": \"Fancy\"}", "post-processor type 'Fancy'", "$.post_processor")]
    [InlineData("decoder", "{\"type\": \"CTC\"}", "decoder type 'CTC'", "$.decoder")]
    [InlineData("model", "{\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {}, \"merges\": []}", "dropout", "$.model.dropout")]
    public void UnsupportedComponentsAreNamedErrors(string key, string json, string what, string path)
    {
        using HandmadeFolder folder = HandmadeFolder.Create("bert-wordpiece-bpe", "[CLS]", "[SEP]", "[UNK]");
        string file = Path.Combine(folder.Path, "tokenizer.json");
        var doc = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        doc[key] = System.Text.Json.Nodes.JsonNode.Parse(json);
        File.WriteAllText(file, doc.ToJsonString());
        var ex = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(folder.Path));
        Assert.Contains(what, ex.Message, StringComparison.Ordinal);
        Assert.Contains(path + ":", ex.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LongestFirstPairTruncationFollowsTokenizers019()
    {
        DebertaTokenizerFast t = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder("v3"));
        string a = "one two three four five six seven eight nine ten";
        int Count(string s) => t.Encode(s, new EncodeOptions { AddSpecialTokens = false }).Length;
        Assert.Equal(37, Count(a));
        Assert.Equal(2, Count("ab"));
        Assert.Equal(7, Count("alpha beta"));

        // 12 + 3 specials, pair 37 / 2: the shorter fits in half, keeps all, the longer gets the other 10.
        TokenEncoding e = t.Encode(a, "ab", new EncodeOptions { MaxLength = 15 });
        Assert.Equal(10, e.SequenceIds.Count(s => s == 0));
        Assert.Equal(2, e.SequenceIds.Count(s => s == 1));
        Assert.Equal(27, e.NumTruncatedTokens);

        // 11 for a 37 / 7 pair: the shorter does not fit in half, so 5 / 6, the odd token to the longer (the first).
        e = t.Encode(a, "alpha beta", new EncodeOptions { MaxLength = 14 });
        Assert.Equal(6, e.SequenceIds.Count(s => s == 0));
        Assert.Equal(5, e.SequenceIds.Count(s => s == 1));

        // Equal lengths: the first gets half, the second half + the odd one (the slow tokenizer does it the other way round).
        e = t.Encode(a, a, new EncodeOptions { MaxLength = 9 + 3 });
        Assert.Equal(4, e.SequenceIds.Count(s => s == 0));
        Assert.Equal(5, e.SequenceIds.Count(s => s == 1));

        // The kept tokens are the first ones of each sequence.
        TokenEncoding full = t.Encode(a, a, new EncodeOptions { AddSpecialTokens = false });
        Assert.Equal(full.InputIds.Take(4), e.InputIds.Skip(1).Take(4));
    }

    [Fact]
    public void OnlyFirstOnATooShortSequenceIsAnError()
    {
        DebertaTokenizerFast t = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder("v3"));
        var ex = Assert.Throws<TokenizerException>(() =>
            t.Encode("a", "one two three four five six seven eight nine ten", new EncodeOptions { MaxLength = 6, Truncation = TruncationStrategy.OnlyFirst }));
        Assert.Contains("too short", ex.Message, StringComparison.Ordinal);
        TokenEncoding e = t.Encode("one two three four five six", "a", new EncodeOptions { MaxLength = 6, Truncation = TruncationStrategy.OnlyFirst });
        Assert.Equal(6, e.Length);
    }

    [Fact]
    public void TruncationAndPaddingBlocksBecomeEncodeOptions()
    {
        using HandmadeFolder folder = HandmadeFolder.Create("bert-wordpiece-bpe", "[CLS]", "[SEP]", "[UNK]");
        string file = Path.Combine(folder.Path, "tokenizer.json");
        var doc = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        DebertaTokenizerFast plain = DebertaTokenizerFast.FromPretrained(folder.Path);
        Assert.Null(plain.FileEncodeOptions());

        doc["truncation"] = System.Text.Json.Nodes.JsonNode.Parse("{\"direction\": \"Right\", \"max_length\": 6, \"strategy\": \"LongestFirst\", \"stride\": 0}");
        doc["padding"] = System.Text.Json.Nodes.JsonNode.Parse(
            "{\"strategy\": \"BatchLongest\", \"direction\": \"Left\", \"pad_to_multiple_of\": null, \"pad_id\": 0, \"pad_type_id\": 0, \"pad_token\": \"[PAD]\"}");
        File.WriteAllText(file, doc.ToJsonString());
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), "{\"cls_token\": \"[CLS]\", \"sep_token\": \"[SEP]\", \"unk_token\": \"[UNK]\", \"pad_token\": \"[PAD]\"}");
        DebertaTokenizerFast t = DebertaTokenizerFast.FromPretrained(folder.Path);
        EncodeOptions options = t.FileEncodeOptions()!;
        Assert.Equal(6, options.MaxLength);
        Assert.Equal(TruncationStrategy.LongestFirst, options.Truncation);
        Assert.Equal(PaddingStrategy.Longest, options.Padding);
        Assert.Equal(PaddingSide.Left, options.PaddingSide);

        BatchEncoding batch = t.EncodeBatch(["the thing is here and there", "an"], options);
        Assert.Equal(6, batch.Encodings[0].Length);
        Assert.Equal(6, batch.Encodings[1].Length);
        Assert.Equal([0, 0, 0, 2], batch.Encodings[1].InputIds.Take(4));

        doc["padding"]!["pad_to_multiple_of"] = 8;
        File.WriteAllText(file, doc.ToJsonString());
        var ex = Assert.Throws<TokenizerException>(() => DebertaTokenizerFast.FromPretrained(folder.Path).FileEncodeOptions());
        Assert.Contains("pad_to_multiple_of 8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodesThroughTheFilesDecoder()
    {
        DebertaTokenizerFast v3 = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder("v3"));
        Assert.Equal("Hello world!", v3.Decode(v3.Encode("Hello world!").InputIds, skipSpecialTokens: true));
        DebertaTokenizerFast v1 = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder("v1"));
        Assert.Equal("Hello world! é", v1.Decode(v1.Encode("Hello world! é").InputIds, skipSpecialTokens: true));
        Assert.Equal("[CLS]the[MASK][SEP]", v1.Decode(v1.Encode("the [MASK]").InputIds)); // [MASK] has lstrip
    }

    [Fact]
    public void InlineSpecialTokensAreAddedTokensWithMaskZero()
    {
        DebertaTokenizerFast t = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder("v3"));
        TokenEncoding e = t.Encode("a [MASK] b");
        int k = e.InputIds.ToList().IndexOf(1000);
        Assert.True(k > 0);
        Assert.Equal(0, e.SpecialTokensMask[k]);
        Assert.Equal(new TokenOffset(2, 8), e.Offsets[k]);
        Assert.Equal(1, e.SpecialTokensMask[0]);
    }

    [Fact]
    public void EncodingFromSeveralThreadsGivesTheSameResults()
    {
        DebertaTokenizerFast t = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder("albert30k"));
        string[] texts = [.. FastGoldenData.Cases("albert30k").Take(300).Select(c => c.Text)];
        int[][] sequential = [.. texts.Select(x => t.Encode(x).InputIds.ToArray())];
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = [.. t.Encode(texts[i]).InputIds]);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(sequential[i], parallel[i]);
        }
    }
}
