using System.Text.Json;
using DebertaSharp.Tokenization;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>One <c>cases[i]</c> entry of a golden <c>expected.json</c> (HF 4.44 slow tokenizer outputs); offsets and decodings are absent in tokenizer-real.</summary>
internal sealed record GoldenCase(
    string Name,
    string Text,
    string? TextPair,
    int[] InputIds,
    int[] TokenTypeIds,
    int[] AttentionMask,
    int[] SpecialTokensMask,
    string[] Tokens,
    (int Start, int End)[]? CodePointOffsets,
    int?[] SequenceIds,
    string? Decoded,
    string? DecodedSkipSpecialTokens);

/// <summary>One <c>batch_examples</c> entry: the call's arguments and HF's returned ids.</summary>
internal sealed record GoldenBatchExample(
    string Name,
    IReadOnlyList<string> Texts,
    IReadOnlyList<string?>? TextPairs,
    bool IsBatch,
    EncodeOptions Options,
    int[][] InputIds,
    int[][]? TokenTypeIds,
    int[][]? AttentionMask);

/// <summary>Reads the golden files copied to <c>Fixtures/tokenizer-v1</c>, <c>Fixtures/tokenizer-v3</c> and <c>Fixtures/tokenizer-real/*</c> (gzip'd).</summary>
internal static class GoldenData
{
    public static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static IReadOnlyList<GoldenCase> Cases(string name)
    {
        using JsonDocument doc = Expected(name);
        var result = new List<GoldenCase>();
        int index = 0;
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            string? pair = c.TryGetProperty("text_pair", out JsonElement p) ? p.GetString() : null;
            string label = text.Length > 40 ? text[..40] + "…" : text;
            result.Add(new GoldenCase(
                $"{name}#{index++:D2} {JsonSerializer.Serialize(label)}{(pair is null ? "" : " + pair")}",
                text,
                pair,
                Ints(c.GetProperty("input_ids")),
                Ints(c.GetProperty("token_type_ids")),
                Ints(c.GetProperty("attention_mask")),
                Ints(c.GetProperty("special_tokens_mask")),
                c.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray(),
                c.TryGetProperty("offsets", out JsonElement offsets)
                    ? offsets.EnumerateArray().Select(o => (o[0].GetInt32(), o[1].GetInt32())).ToArray()
                    : null,
                c.GetProperty("sequence_ids").EnumerateArray().Select(s => s.ValueKind == JsonValueKind.Null ? (int?)null : s.GetInt32()).ToArray(),
                c.TryGetProperty("decoded", out JsonElement decoded) ? decoded.GetString() : null,
                c.TryGetProperty("decoded_skip_special_tokens", out JsonElement skipped) ? skipped.GetString() : null));
        }

        return result;
    }

    public static IReadOnlyList<GoldenBatchExample> BatchExamples(string name)
    {
        using JsonDocument doc = Expected(name);
        var result = new List<GoldenBatchExample>();
        foreach (JsonProperty e in doc.RootElement.GetProperty("batch_examples").EnumerateObject())
        {
            JsonElement x = e.Value;
            bool isBatch = x.TryGetProperty("texts", out JsonElement textsElement);
            List<string> texts = isBatch
                ? textsElement.EnumerateArray().Select(t => t.GetString()!).ToList()
                : [x.GetProperty("text").GetString()!];
            List<string?>? pairs = null;
            if (x.TryGetProperty("text_pairs", out JsonElement pairsElement))
            {
                pairs = pairsElement.EnumerateArray().Select(t => t.GetString()).ToList();
            }
            else if (x.TryGetProperty("text_pair", out JsonElement pairElement))
            {
                pairs = [pairElement.GetString()];
            }

            var options = new EncodeOptions();
            JsonElement args = x.TryGetProperty("kwargs", out JsonElement k) ? k : x;
            if (args.TryGetProperty("max_length", out JsonElement max))
            {
                options = options with { MaxLength = max.GetInt32() };
            }

            if (args.TryGetProperty("padding", out JsonElement padding))
            {
                options = options with
                {
                    Padding = padding.ValueKind == JsonValueKind.True ? PaddingStrategy.Longest
                        : padding.ValueKind == JsonValueKind.False ? PaddingStrategy.DoNotPad
                        : ParsePadding(padding.GetString()!),
                };
            }
            else if (!x.TryGetProperty("kwargs", out _) && isBatch)
            {
                options = options with { Padding = PaddingStrategy.Longest }; // v3 examples: padding=True, see their note
            }

            if (args.TryGetProperty("truncation", out JsonElement truncation))
            {
                options = options with
                {
                    Truncation = truncation.ValueKind == JsonValueKind.True ? TruncationStrategy.LongestFirst
                        : truncation.ValueKind == JsonValueKind.False ? TruncationStrategy.DoNotTruncate
                        : ParseTruncation(truncation.GetString()!),
                };
            }

            string note = x.TryGetProperty("note", out JsonElement n) ? n.GetString() ?? "" : "";
            if (note.Contains("padding_side='left'", StringComparison.Ordinal))
            {
                options = options with { PaddingSide = PaddingSide.Left };
            }

            result.Add(new GoldenBatchExample(
                e.Name,
                texts,
                pairs,
                isBatch,
                options,
                Rows(x.GetProperty("input_ids"))!,
                x.TryGetProperty("token_type_ids", out JsonElement tt) ? Rows(tt) : null,
                x.TryGetProperty("attention_mask", out JsonElement am) ? Rows(am) : null));
        }

        return result;
    }

    /// <summary><c>expected.json</c>, or <c>expected.json.gz</c> where the fixture is gzip'd.</summary>
    private static JsonDocument Expected(string name)
    {
        string plain = Path.Combine(Folder(name), "expected.json");
        if (File.Exists(plain))
        {
            return JsonDocument.Parse(File.ReadAllText(plain));
        }

        using var gzip = new System.IO.Compression.GZipStream(File.OpenRead(plain + ".gz"), System.IO.Compression.CompressionMode.Decompress);
        return JsonDocument.Parse(gzip);
    }

    /// <summary>Python code-point offsets → .NET UTF-16 offsets for <paramref name="text"/>.</summary>
    public static (int Start, int End) ToUtf16((int Start, int End) codePoints, string text)
    {
        var map = new List<int> { 0 };
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }

            map.Add(i + 1);
        }

        return (map[codePoints.Start], map[codePoints.End]);
    }

    private static PaddingStrategy ParsePadding(string value) => value switch
    {
        "longest" => PaddingStrategy.Longest,
        "max_length" => PaddingStrategy.MaxLength,
        "do_not_pad" => PaddingStrategy.DoNotPad,
        _ => throw new InvalidDataException($"unknown padding '{value}'"),
    };

    private static TruncationStrategy ParseTruncation(string value) => value switch
    {
        "longest_first" => TruncationStrategy.LongestFirst,
        "only_first" => TruncationStrategy.OnlyFirst,
        "only_second" => TruncationStrategy.OnlySecond,
        "do_not_truncate" => TruncationStrategy.DoNotTruncate,
        _ => throw new InvalidDataException($"unknown truncation '{value}'"),
    };

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static int[][] Rows(JsonElement array)
    {
        JsonElement[] items = array.EnumerateArray().ToArray();
        return items.Length > 0 && items[0].ValueKind == JsonValueKind.Array
            ? items.Select(Ints).ToArray()
            : [Ints(array)];
    }
}
