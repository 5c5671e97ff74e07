using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>AutoTokenizer picks the class as HF does, and the batch helpers lay out int64 data for tensors.</summary>
public class AutoTokenizerTests
{
    [Fact]
    public void PicksTheClassFromTokenizerConfig()
    {
        Assert.IsType<DebertaV2Tokenizer>(AutoTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v3")));
        Assert.IsType<DebertaTokenizer>(AutoTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v1")));
    }

    [Fact]
    public void FallsBackToConfigModelTypeThenFiles()
    {
        using TempFolder v3 = TempFolder.CopyOf("tokenizer-v3");
        File.Delete(v3.File("tokenizer_config.json"));
        File.WriteAllText(v3.File("config.json"), "{\"model_type\": \"deberta-v2\"}");
        Assert.IsType<DebertaV2Tokenizer>(AutoTokenizer.FromPretrained(v3.Path));
        File.Delete(v3.File("config.json"));
        Assert.IsType<DebertaV2Tokenizer>(AutoTokenizer.FromPretrained(v3.Path));

        using TempFolder v1 = TempFolder.CopyOf("tokenizer-v1");
        File.Delete(v1.File("tokenizer_config.json"));
        File.WriteAllText(v1.File("config.json"), "{\"model_type\": \"deberta\"}");
        DebertaTokenizerBase t = AutoTokenizer.FromPretrained(v1.Path);
        Assert.IsType<DebertaTokenizer>(t);
        Assert.True(t.Mask!.LStrip); // from special_tokens_map.json
    }

    [Fact]
    public void ModelMaxLengthFromConfigLimitsTruncation()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v1");
        string json = File.ReadAllText(dir.File("tokenizer_config.json"))
            .Replace("1000000000000000019884624838656", "8", StringComparison.Ordinal);
        File.WriteAllText(dir.File("tokenizer_config.json"), json);
        DebertaTokenizerBase t = AutoTokenizer.FromPretrained(dir.Path);
        Assert.Equal(8, t.ModelMaxLength);
        Assert.Equal(8, t.Encode("This License applies to any program or other work", new EncodeOptions { Truncation = TruncationStrategy.LongestFirst }).Length);
        Assert.Equal(8, t.Encode("Hi", new EncodeOptions { Padding = PaddingStrategy.MaxLength }).Length);
    }

    [Fact]
    public void BatchLaysOutRowMajorInt64()
    {
        BatchEncoding batch = Tokenizers.V3.EncodeBatch(["Hello world!", "A"], new EncodeOptions { Padding = PaddingStrategy.Longest });
        Assert.Equal(2, batch.BatchSize);
        Assert.Equal(11, batch.SequenceLength);
        long[,] ids = batch.ToInt64Matrix(EncodingField.InputIds);
        long[] flat = batch.ToInt64Flat(EncodingField.AttentionMask);
        Assert.Equal(61, ids[1, 1]);
        Assert.Equal(0, ids[1, 3]);
        Assert.Equal(22, flat.Length);
        Assert.Equal([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], flat[11..]);
        Assert.Equal(batch.Encodings[1].SpecialTokensMask.Select(v => (long)v), Enumerable.Range(0, 11).Select(c => batch.ToInt64Matrix(EncodingField.SpecialTokensMask)[1, c]));
    }

    [Fact]
    public void WithoutSpecialTokensNothingIsAdded()
    {
        TokenEncoding e = Tokenizers.V3.Encode("Hello world!", "A", new EncodeOptions { AddSpecialTokens = false });
        Assert.Equal([157, 446, 23, 7, 42, 48, 26, 16, 843, 61], e.InputIds);
        Assert.All(e.TokenTypeIds, t => Assert.Equal(0, t));
        Assert.Equal(Tokenizers.V3.Tokenize("Hello world!").Concat(Tokenizers.V3.Tokenize("A")), e.Tokens);
    }

    [Fact]
    public void LowerCaseAndSplitByPunctFollowTheConfig()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        string json = File.ReadAllText(dir.File("tokenizer_config.json"))
            .Replace("\"do_lower_case\": false", "\"do_lower_case\": true", StringComparison.Ordinal)
            .Replace("\"split_by_punct\": false", "\"split_by_punct\": true", StringComparison.Ordinal);
        File.WriteAllText(dir.File("tokenizer_config.json"), json);
        DebertaV2Tokenizer t = DebertaV2Tokenizer.FromPretrained(dir.Path);
        Assert.True(t.DoLowerCase && t.SplitByPunct);
        TokenEncoding e = t.Encode("HELLO,World [MASK]");
        // split_by_punct: "hello" "," "world [MASK]"... each part gets its own dummy prefix; [MASK] stays special.
        Assert.Equal(Tokenizers.V3.Tokenize("hello").Concat(Tokenizers.V3.Tokenize(",")).Concat(Tokenizers.V3.Tokenize("world")).Append("[MASK]"), e.Tokens.Skip(1).SkipLast(1));
        Assert.Equal(new TokenOffset(5, 6), e.Offsets[e.Tokens.ToList().IndexOf("\u2581,") is int k && k >= 0 ? k : e.Tokens.ToList().IndexOf(",")]);
    }
}
