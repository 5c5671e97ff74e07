using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>Bad files, bad configs and bad arguments give a <see cref="TokenizerException"/> that names the culprit.</summary>
public class TokenizerErrorTests
{
    [Fact]
    public void MissingFolderIsNamed()
    {
        var ex = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained("/nonexistent/deberta-folder"));
        Assert.Contains("/nonexistent/deberta-folder", ex.Message);
    }

    [Fact]
    public void MissingSpmModelIsNamed()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        File.Delete(dir.File("spm.model"));
        var ex = Assert.Throws<TokenizerException>(() => DebertaV2Tokenizer.FromPretrained(dir.Path));
        Assert.Contains("spm.model", ex.Message);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("empty")]
    [InlineData("json")]
    public void CorruptSpmModelIsNamed(string corruption)
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        byte[] original = File.ReadAllBytes(dir.File("spm.model"));
        byte[] broken = corruption switch
        {
            "garbage" => Enumerable.Range(0, 5000).Select(i => (byte)((i * 7919) ^ (i >> 3))).ToArray(),
            "truncated" => original[..(original.Length / 2)],
            "empty" => [],
            _ => System.Text.Encoding.UTF8.GetBytes("{\"not\": \"a model\"}"),
        };
        File.WriteAllBytes(dir.File("spm.model"), broken);
        var ex = Assert.Throws<TokenizerException>(() => DebertaV2Tokenizer.FromPretrained(dir.Path));
        Assert.Contains("spm.model", ex.Message);
    }

    [Fact]
    public void MissingVocabJsonIsNamed()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v1");
        File.Delete(dir.File("vocab.json"));
        var ex = Assert.Throws<TokenizerException>(() => DebertaTokenizer.FromPretrained(dir.Path));
        Assert.Contains("vocab.json", ex.Message);
    }

    [Theory]
    [InlineData("{ this is not json")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{\"a\": \"one\"}")]
    [InlineData("{}")]
    public void CorruptVocabJsonIsNamed(string content)
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v1");
        File.WriteAllText(dir.File("vocab.json"), content);
        var ex = Assert.Throws<TokenizerException>(() => DebertaTokenizer.FromPretrained(dir.Path));
        Assert.Contains("vocab.json", ex.Message);
    }

    [Fact]
    public void CorruptMergesLineIsNamed()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v1");
        File.AppendAllText(dir.File("merges.txt"), "one-token-only\n");
        var ex = Assert.Throws<TokenizerException>(() => DebertaTokenizer.FromPretrained(dir.Path));
        Assert.Contains("merges.txt", ex.Message);
        Assert.Contains("one-token-only", ex.Message);
    }

    [Fact]
    public void CorruptTokenizerConfigIsNamed()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"do_lower_case\": \"yes\"}");
        var ex = Assert.Throws<TokenizerException>(() => DebertaV2Tokenizer.FromPretrained(dir.Path));
        Assert.Contains("tokenizer_config.json", ex.Message);
        Assert.Contains("do_lower_case", ex.Message);
    }

    [Theory]
    [InlineData("tokenizer-v3", "special_tokens_map.json")]
    [InlineData("tokenizer-v1", "special_tokens_map.json")]
    public void UnknownSpecialTokenIsNamed(string fixture, string file)
    {
        using TempFolder dir = TempFolder.CopyOf(fixture);
        string json = File.ReadAllText(dir.File(file)).Replace("\"[MASK]\"", "\"[NOT-A-TOKEN]\"", StringComparison.Ordinal);
        File.WriteAllText(dir.File(file), json);
        var ex = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(dir.Path));
        Assert.Contains("[NOT-A-TOKEN]", ex.Message);
        Assert.Contains("mask_token", ex.Message);
    }

    [Fact]
    public void LegacyConfigWithoutAddedTokensDecoderAppendsMaskLikeHf()
    {
        // deberta-v3-base ships only {"do_lower_case": false, "vocab_type": "spm"}: [MASK] gets the first id after the spm pieces.
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"do_lower_case\": false, \"vocab_type\": \"spm\"}");
        File.Delete(dir.File("special_tokens_map.json"));
        File.Delete(dir.File("added_tokens.json"));
        DebertaV2Tokenizer t = DebertaV2Tokenizer.FromPretrained(dir.Path);
        Assert.Equal(1000, t.MaskTokenId);
        Assert.Equal(1001, t.VocabularySize);
        Assert.Equal([1, 151, 1000, 7, 8, 54, 331, 11, 7, 28, 54, 5, 2], t.Encode("The [MASK] sat on the mat.").InputIds);
    }

    [Fact]
    public void UnknownTokenizerClassIsNamed()
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"tokenizer_class\": \"BertTokenizer\"}");
        var ex = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(dir.Path));
        Assert.Contains("BertTokenizer", ex.Message);
    }

    [Fact]
    public void NullTextIsRejected()
    {
        DebertaTokenizerBase t = Tokenizers.V3;
        Assert.Throws<TokenizerException>(() => t.Encode(null!));
        Assert.Throws<TokenizerException>(() => t.Tokenize(null!));
        var ex = Assert.Throws<TokenizerException>(() => t.EncodeBatch(["ok", null!]));
        Assert.Contains("texts[1]", ex.Message);
        Assert.Throws<TokenizerException>(() => t.EncodeBatch(null!));
        Assert.Throws<TokenizerException>(() => t.EncodeBatch(["a", "b"], ["only one"]));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(0, false)]
    [InlineData(-5, false)]
    public void MaxLengthBelowSpecialTokensIsRejected(int maxLength, bool pair)
    {
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        var ex = Assert.Throws<TokenizerException>(() => Tokenizers.V1.Encode("Hello world", pair ? "again" : null, options));
        Assert.Contains(maxLength.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [Fact]
    public void IdOutsideVocabularyIsNamedInDecode()
    {
        var ex = Assert.Throws<TokenizerException>(() => Tokenizers.V3.Decode([1, 5000, 2]));
        Assert.Contains("5000", ex.Message);
    }

    [Fact]
    public void RaggedBatchRefusesMatrix()
    {
        BatchEncoding batch = Tokenizers.V3.EncodeBatch(["a", "a longer text"]);
        Assert.False(batch.IsRectangular);
        Assert.Throws<TokenizerException>(() => batch.ToInt64Matrix(EncodingField.InputIds));
    }
}

/// <summary>The fixture tokenizers, loaded once.</summary>
internal static class Tokenizers
{
    private static readonly Lazy<DebertaV2Tokenizer> LazyV3 = new(() => DebertaV2Tokenizer.FromPretrained(GoldenData.Folder("tokenizer-v3")));
    private static readonly Lazy<DebertaTokenizer> LazyV1 = new(() => DebertaTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v1")));

    public static DebertaV2Tokenizer V3 => LazyV3.Value;

    public static DebertaTokenizer V1 => LazyV1.Value;

    public static IEnumerable<DebertaTokenizerBase> Both => [V3, V1];
}
