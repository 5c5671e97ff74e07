using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>README's encode-options example, on the tokenizer-v3 fixture (lengths scaled down to its short texts).</summary>
public class ReadmeTokenizerExampleTests
{
    [Fact]
    public void ReadmeEncodeOptionsExampleRuns()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "README.md"));
        Assert.Contains("var words = tokenizer.EncodeWords([\"New\", \"York\", \"is\", \"big\"]);", readme);
        Assert.Contains("Truncation = TruncationStrategy.OnlySecond, Stride = 128, ReturnOverflowingTokens = true,", readme);

        var tokenizer = AutoTokenizer.FromPretrained(GoldenData.Folder("tokenizer-v3"));
        string longContext = string.Concat(Enumerable.Repeat("This License applies to any program or other work. ", 20));
        var windows = tokenizer.EncodeBatch(["Who may copy it?"], [longContext], new EncodeOptions
        {
            MaxLength = 48, Truncation = TruncationStrategy.OnlySecond, Stride = 16, ReturnOverflowingTokens = true,
            Padding = PaddingStrategy.Longest, PadToMultipleOf = 8,
        });
        Assert.True(windows.BatchSize > 1);
        Assert.All(windows.OverflowToSampleMapping!, i => Assert.Equal(0, i));
        Assert.Equal(48, windows.SequenceLength);
        var words = tokenizer.EncodeWords(["New", "York", "is", "big"]);
        IReadOnlyList<int?> wordIds = words.WordIds!;
        Assert.Null(wordIds[0]);
        Assert.Equal(3, wordIds[^2]);
        var tail = tokenizer.Encode(longContext, new EncodeOptions { MaxLength = 16, TruncationSide = TruncationSide.Left });
        Assert.Equal(tokenizer.Encode(longContext).InputIds.TakeLast(15), tail.InputIds.Skip(1));
        var plain = tokenizer.Encode("no template", new EncodeOptions { AddSpecialTokens = false });
        Assert.DoesNotContain(tokenizer.ClsTokenId, plain.InputIds);
        string folder = Path.Combine(Path.GetTempPath(), "debertasharp-readme-tok-" + Guid.NewGuid().ToString("N"));
        try
        {
            tokenizer.SavePretrained(folder);
            Assert.True(File.Exists(Path.Combine(folder, "spm.model")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
