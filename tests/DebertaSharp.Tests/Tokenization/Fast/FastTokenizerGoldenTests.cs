using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization.Fast;

/// <summary>
/// tokenizer.json files made from the fixtures (as transformers' converters lay them out) against HF's Rust tokenizers
/// 0.23.2: every string, single and pair, with and without special tokens, on ids, type ids, masks, tokens and offsets.
/// </summary>
public class FastTokenizerGoldenTests
{
    [Theory]
    [InlineData("v3")]
    [InlineData("v1")]
    [InlineData("albert30k")]
    [InlineData("gpt2-50k")]
    public void MatchesTheRustLibraryOnEveryCase(string folder)
    {
        DebertaTokenizerFast tokenizer = DebertaTokenizerFast.FromPretrained(FastGoldenData.Folder(folder));
        IReadOnlyList<RustCase> cases = FastGoldenData.Cases(folder);
        List<string> failures = FastGoldenData.Failures(tokenizer, cases);

        Assert.True(cases.Count > 0);
        Assert.True(failures.Count == 0, $"{failures.Count}/{cases.Count} cases differ:\n" + string.Join("\n", failures.Take(15)));
    }
}

/// <summary>
/// Hand-made tokenizer.json files for the components DeBERTa's converters do not use (see handmade/README.txt), against
/// the Rust library on 830 strings each, decoding included.
/// </summary>
public class FastTokenizerHandmadeTests
{
    [Theory]
    [InlineData("bert-wordpiece-bpe", "[CLS]", "[SEP]", "[UNK]")]
    [InlineData("bert-normalizer", "[CLS]", "[SEP]", "[UNK]")]
    [InlineData("roberta-bytefallback-bpe", "<s>", "</s>", "<unk>")]
    [InlineData("unigram-bytefallback", "[CLS]", "[SEP]", "[UNK]")]
    [InlineData("bytelevel-prefix", "[CLS]", "[SEP]", "[UNK]")]
    [InlineData("unigram-split-invert", "[CLS]", "[SEP]", "[UNK]")]
    [InlineData("suffix-bpe", "[CLS]", "[SEP]", "[UNK]")]
    [InlineData("metaspace-never", "[CLS]", "[SEP]", "[UNK]")]
    public void MatchesTheRustLibrary(string name, string cls, string sep, string unk)
    {
        using HandmadeFolder folder = HandmadeFolder.Create(name, cls, sep, unk);
        DebertaTokenizerFast tokenizer = DebertaTokenizerFast.FromPretrained(folder.Path);
        IReadOnlyList<RustCase> cases = FastGoldenData.CasesOf(Path.Combine(FastGoldenData.Folder("handmade"), name + ".expected.json.gz"));
        List<string> failures = FastGoldenData.Failures(tokenizer, cases);

        Assert.Equal(830, cases.Count);
        Assert.True(failures.Count == 0, $"{failures.Count}/{cases.Count} cases differ:\n" + string.Join("\n", failures.Take(15)));
    }
}

/// <summary>A temporary folder holding one hand-made file as tokenizer.json and a tokenizer_config.json naming its roles.</summary>
internal sealed class HandmadeFolder : IDisposable
{
    private HandmadeFolder(string path) => Path = path;

    public string Path { get; }

    public static HandmadeFolder Create(string name, string cls, string sep, string unk)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "debertasharp-fast-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        File.Copy(System.IO.Path.Combine(FastGoldenData.Folder("handmade"), name + ".json"), System.IO.Path.Combine(path, "tokenizer.json"));
        // No clean-up on decode: the Rust library's decode has none (transformers adds it).
        var config = new Dictionary<string, object> { ["cls_token"] = cls, ["sep_token"] = sep, ["unk_token"] = unk, ["bos_token"] = cls, ["eos_token"] = sep, ["clean_up_tokenization_spaces"] = false };
        File.WriteAllText(System.IO.Path.Combine(path, "tokenizer_config.json"), System.Text.Json.JsonSerializer.Serialize(config));
        return new HandmadeFolder(path);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
