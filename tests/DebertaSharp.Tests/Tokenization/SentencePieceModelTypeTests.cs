using System.Text.Json;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// sentencepiece model types and options DeBERTa's published tokenizers do not use — BPE (model_type 2), word (3),
/// char (4), byte fallback, user-defined symbols, case folding — against python sentencepiece 0.1.97 on Fixtures/spm-types
/// (see its README.md). HF's DebertaV2Tokenizer gives sentencepiece's ids for these (pieces → ids via PieceToId).
/// </summary>
public class SentencePieceModelTypeTests
{
    private static readonly Lazy<JsonDocument> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenData.Folder("spm-types"), "expected.json"))));

    [Theory]
    [InlineData("unigram-bytefallback")]
    [InlineData("bpe-bytefallback")]
    [InlineData("bpe")]
    [InlineData("word")]
    [InlineData("char")]
    public void MatchesSentencePiece(string model)
    {
        var tokenizer = DebertaV2Tokenizer.FromPretrained(Path.Combine(GoldenData.Folder("spm-types"), model));
        var options = new EncodeOptions { AddSpecialTokens = false };
        var failures = new List<string>();
        int count = 0;
        foreach (JsonElement c in Expected.Value.RootElement.GetProperty("models").GetProperty(model).EnumerateArray())
        {
            count++;
            string text = c.GetProperty("text").GetString()!;
            int[] ids = c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray();
            string[] pieces = c.GetProperty("pieces").EnumerateArray().Select(p => p.GetString()!).ToArray();
            string decoded = c.GetProperty("decoded").GetString()!;
            TokenEncoding e = tokenizer.Encode(text, options);
            string ourDecoded = tokenizer.Decode(ids);
            if (!ids.SequenceEqual(e.InputIds) || !pieces.SequenceEqual(e.Tokens) || decoded != ourDecoded)
            {
                failures.Add($"{JsonSerializer.Serialize(text)}:\n  ids expected [{string.Join(", ", ids)}] got [{string.Join(", ", e.InputIds)}]" +
                    $"\n  pieces expected [{string.Join(" ", pieces)}] got [{string.Join(" ", e.Tokens)}]" +
                    $"\n  decoded expected {JsonSerializer.Serialize(decoded)} got {JsonSerializer.Serialize(ourDecoded)}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count}/{count} strings differ:\n" + string.Join("\n", failures.Take(20)));
        Assert.Equal(268, count);
    }

    /// <summary>2,000 seeded random strings (Fixtures/spm-types/random.json.gz) on every model type and ALBERT's published model.</summary>
    [Theory]
    [InlineData("unigram-bytefallback")]
    [InlineData("bpe-bytefallback")]
    [InlineData("bpe")]
    [InlineData("word")]
    [InlineData("char")]
    [InlineData("albert30k")]
    public void RandomStringsMatchSentencePiece(string model)
    {
        using var gzip = new System.IO.Compression.GZipStream(
            File.OpenRead(Path.Combine(GoldenData.Folder("spm-types"), "random.json.gz")), System.IO.Compression.CompressionMode.Decompress);
        using JsonDocument doc = JsonDocument.Parse(gzip);
        string folder = model == "albert30k"
            ? GoldenData.Folder(TokenizerRealGoldenTests.Albert)
            : Path.Combine(GoldenData.Folder("spm-types"), model);
        var tokenizer = DebertaV2Tokenizer.FromPretrained(folder);
        var options = new EncodeOptions { AddSpecialTokens = false };
        string[] texts = doc.RootElement.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var failures = new List<string>();
        int i = 0;
        foreach (JsonElement row in doc.RootElement.GetProperty("ids").GetProperty(model).EnumerateArray())
        {
            int[] expected = row.EnumerateArray().Select(v => v.GetInt32()).ToArray();
            IReadOnlyList<int> actual = tokenizer.Encode(texts[i], options).InputIds;
            if (!expected.SequenceEqual(actual))
            {
                failures.Add($"{JsonSerializer.Serialize(texts[i])}:\n  expected [{string.Join(", ", expected)}]\n  got      [{string.Join(", ", actual)}]");
            }

            i++;
        }

        Assert.True(failures.Count == 0, $"{failures.Count}/{i} strings differ:\n" + string.Join("\n", failures.Take(20)));
        Assert.Equal(2000, i);
    }

    [Fact]
    public void ByteFallbackCoversUnknownCharactersWithBytePieces()
    {
        var tokenizer = DebertaV2Tokenizer.FromPretrained(Path.Combine(GoldenData.Folder("spm-types"), "bpe-bytefallback"));
        TokenEncoding e = tokenizer.Encode("😀", new EncodeOptions { AddSpecialTokens = false });

        // U+1F600 is F0 9F 98 80 in UTF-8; only the last byte piece spans the character.
        Assert.Equal(["▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"], e.Tokens);
        Assert.Equal([(0, 0), (0, 0), (0, 0), (0, 0), (0, 2)], e.Offsets.Select(o => (o.Start, o.End)));
    }
}
