using System.Text.Json.Nodes;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// <c>SavePretrained</c> of a tokenizer: the fixture folders were written by HF's own <c>save_pretrained</c>, so saving what was
/// loaded from them must give the same files (JSON compared as values), and the reloaded tokenizer the same ids.
/// </summary>
public class TokenizerSavePretrainedTests
{
    [Theory]
    [InlineData("tokenizer-v3")]
    [InlineData("tokenizer-v1")]
    public void SavedFilesEqualTheOnesHfWroteAndReloadGivesTheSameIds(string fixture)
    {
        using TempFolder source = TempFolder.CopyOf(fixture);
        DebertaTokenizerBase tokenizer = AutoTokenizer.FromPretrained(source.Path);
        string saved = Path.Combine(Path.GetTempPath(), "debertasharp-tok-save-" + Guid.NewGuid().ToString("N"));
        try
        {
            // The source may be gone by the time of the save (a pruned checkpoint): the model files were read at load.
            Directory.Delete(source.Path, recursive: true);
            tokenizer.SavePretrained(saved);

            string original = GoldenData.Folder(fixture);
            string[] expectedFiles = Directory.GetFiles(original).Select(Path.GetFileName).Where(n => n is not ("expected.json" or "README.txt")).Order().ToArray()!;
            Assert.Equal(expectedFiles, Directory.GetFiles(saved).Select(Path.GetFileName).Order().ToArray());
            foreach (string name in expectedFiles)
            {
                string a = Path.Combine(original, name), b = Path.Combine(saved, name);
                if (name.EndsWith(".json", StringComparison.Ordinal))
                {
                    Assert.True(JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(a)), JsonNode.Parse(File.ReadAllText(b))), $"{name} differs:\n{File.ReadAllText(b)}");
                }
                else
                {
                    Assert.True(File.ReadAllBytes(a).SequenceEqual(File.ReadAllBytes(b)), $"{name} differs");
                }
            }

            DebertaTokenizerBase reloaded = AutoTokenizer.FromPretrained(saved);
            Assert.Equal(tokenizer.GetType(), reloaded.GetType());
            foreach (GoldenCase c in GoldenData.Cases(fixture))
            {
                Assert.Equal(c.InputIds, reloaded.Encode(c.Text, c.TextPair).InputIds);
            }
        }
        finally
        {
            if (Directory.Exists(saved))
            {
                Directory.Delete(saved, recursive: true);
            }
        }
    }

    [Fact]
    public void SavingIntoAModelFolderLeavesItsOtherFilesAndNoTemporaries()
    {
        DebertaTokenizerBase tokenizer = AutoTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v3"));
        string folder = Path.Combine(Path.GetTempPath(), "debertasharp-tok-save-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "stale");
            tokenizer.SavePretrained(folder);
            Assert.Equal("{}", File.ReadAllText(Path.Combine(folder, "config.json")));
            Assert.DoesNotContain(Directory.GetFiles(folder), f => Path.GetFileName(f).StartsWith('.'));
            Assert.Equal("DebertaV2Tokenizer", JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "tokenizer_config.json")))!["tokenizer_class"]!.GetValue<string>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
