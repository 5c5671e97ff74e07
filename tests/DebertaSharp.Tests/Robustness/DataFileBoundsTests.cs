using System.Text;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Data;
using Xunit;

namespace DebertaSharp.Tests.Robustness;

/// <summary>Ids and offsets at the edge of int: named errors instead of OutOfMemory/Overflow/ArgumentOutOfRange, or ids no embedding has.</summary>
public class DataFileBoundsTests
{
    private static string CopyOf(string fixture, TempDir tmp)
    {
        foreach (var f in Directory.GetFiles(Tokenization.GoldenData.Folder(fixture)))
            File.Copy(f, Path.Combine(tmp.Path, Path.GetFileName(f)));
        return tmp.Path;
    }

    [Theory]
    [InlineData("2147483646")]
    [InlineData("2147483647")]
    [InlineData("60000")]
    public void VocabJsonIdsBeyondTheVocabularyAreNamed(string id)
    {
        using var tmp = new TempDir();
        string folder = CopyOf("tokenizer-v1", tmp);
        string vocab = Path.Combine(folder, "vocab.json");
        string text = File.ReadAllText(vocab);
        File.WriteAllText(vocab, "{\"zzzfar\": " + id + ", " + text.TrimStart()[1..]);
        var e = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(folder));
        Assert.Contains("vocab.json", e.Message);
        Assert.Contains("zzzfar", e.Message);
    }

    [Fact]
    public void AddedTokenIdsFarBeyondTheVocabularyAreNamed()
    {
        using var tmp = new TempDir();
        string folder = CopyOf("tokenizer-v3", tmp);
        File.WriteAllText(Path.Combine(folder, "added_tokens.json"), "{\"[MASK]\": 1000, \"<far>\": 2000000000}");
        var e = Assert.Throws<TokenizerException>(() => AutoTokenizer.FromPretrained(folder));
        Assert.Contains("added_tokens.json", e.Message);
        Assert.Contains("<far>", e.Message);
    }

    [Fact]
    public void AddedTokensRightAfterTheVocabularyStillLoad()
    {
        using var tmp = new TempDir();
        string folder = CopyOf("tokenizer-v3", tmp);
        var before = AutoTokenizer.FromPretrained(folder);
        File.WriteAllText(Path.Combine(folder, "added_tokens.json"), "{\"[MASK]\": 1000, \"<new>\": 1001}");
        var tok = AutoTokenizer.FromPretrained(folder);
        Assert.Contains(1001, tok.Encode("a <new> b").InputIds);
        Assert.NotNull(before);
    }

    [Theory]
    [InlineData("2147483647")]
    [InlineData("2147483646")]
    public void SquadAnswerStartAtIntMaxIsADatasetError(string start)
    {
        using var tmp = new TempDir();
        string path = Path.Combine(tmp.Path, "squad.json");
        File.WriteAllText(path, "{\"data\": [{\"paragraphs\": [{\"context\": \"abc\", \"qas\": [{\"id\": \"1\", \"question\": \"q\", \"answers\": [{\"text\": \"bc\", \"answer_start\": " + start + "}]}]}]}]}", Encoding.UTF8);
        var e = Assert.Throws<DatasetException>(() => SquadFile.Read(path));
        Assert.Contains("answer_start " + start, e.Message);
    }
}
