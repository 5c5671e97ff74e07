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
        var failures = new List<string>();
        IReadOnlyList<RustCase> cases = FastGoldenData.Cases(folder);
        foreach (RustCase c in cases)
        {
            string? with = FastGoldenData.Compare(c.WithSpecial, tokenizer.Encode(c.Text, c.TextPair), c.Text, c.TextPair, full: true);
            string? without = FastGoldenData.Compare(
                c.WithoutSpecial, tokenizer.Encode(c.Text, c.TextPair, new EncodeOptions { AddSpecialTokens = false }), c.Text, c.TextPair, full: false);
            if (with is not null || without is not null)
            {
                failures.Add($"#{c.Index} {System.Text.Json.JsonSerializer.Serialize(c.Text.Length > 80 ? c.Text[..80] : c.Text)}{(c.TextPair is null ? "" : " + pair")}: {with ?? "(with specials ok)"} | {without ?? "(without ok)"}");
            }
        }

        Assert.True(cases.Count > 0);
        Assert.True(failures.Count == 0, $"{failures.Count}/{cases.Count} cases differ:\n" + string.Join("\n", failures.Take(15)));
    }
}
