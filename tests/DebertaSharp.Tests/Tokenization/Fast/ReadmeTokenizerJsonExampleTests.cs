using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization.Fast;

/// <summary>The tokenizer.json example of README.md, on a folder with both the v3 fixture's spm.model and its tokenizer.json.</summary>
public class ReadmeTokenizerJsonExampleTests
{
    [Fact]
    public void ReadmeExampleRuns()
    {
        using TempFolder folder = TempFolder.CopyOf("tokenizer-v3");
        File.Copy(Path.Combine(FastGoldenData.Folder("v3"), "tokenizer.json"), folder.File("tokenizer.json"));

        var fast = AutoTokenizer.FromPretrained(folder.Path);
        var slow = AutoTokenizer.FromPretrained(folder.Path, useFast: false);
        Assert.IsType<DebertaTokenizerFast>(fast);
        Assert.IsType<DebertaV2Tokenizer>(slow);
        TokenEncoding e = fast.Encode("How old is the universe?", "About 13.8 billion years.");
        Assert.Equal(["[CLS]", "▁H", "o", "w", "▁", "old"], e.Tokens.Take(6));
        Assert.Equal(2, e.Tokens.Count(t => t == "[SEP]"));
        Assert.Equal("▁A", e.Tokens[e.SequenceIds.ToList().IndexOf(1)]);
        Assert.Equal(new TokenOffset(0, 1), e.Offsets[e.SequenceIds.ToList().IndexOf(1)]);
    }
}
