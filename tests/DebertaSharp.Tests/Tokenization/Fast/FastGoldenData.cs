using System.IO.Compression;
using System.Text.Json;
using DebertaSharp.Tokenization;

namespace DebertaSharp.Tests.Tokenization.Fast;

/// <summary>What HF's Rust tokenizers returned for one encode call (offsets in code points, as the bindings give them).</summary>
internal sealed record RustEncoding(int[] Ids, (int Start, int End)[] Offsets, string[]? Tokens, int[]? TypeIds, int[]? AttentionMask, int[]? SpecialTokensMask);

/// <summary>One case of a <c>tokenizer-json/*/expected.json.gz</c> file.</summary>
internal sealed record RustCase(int Index, string Text, string? TextPair, RustEncoding WithSpecial, RustEncoding WithoutSpecial, string? Decoded);

/// <summary>Reads the reference outputs of <c>Fixtures/tokenizer-json</c> (see its README for provenance).</summary>
internal static class FastGoldenData
{
    public static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizer-json", name);

    public static IReadOnlyList<RustCase> Cases(string name) => CasesOf(Path.Combine(Folder(name), "expected.json.gz"));

    public static IReadOnlyList<RustCase> CasesOf(string path)
    {
        using FileStream file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using JsonDocument doc = JsonDocument.Parse(gzip);
        var result = new List<RustCase>();
        int i = 0;
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string? pair = c.TryGetProperty("text_pair", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            string? decoded = c.TryGetProperty("decoded", out JsonElement d) ? d.GetString() : null;
            result.Add(new RustCase(i++, c.GetProperty("text").GetString()!, pair, Read(c.GetProperty("with_special")), Read(c.GetProperty("without_special")), decoded));
        }

        return result;
    }

    /// <summary>Code-point offsets of <paramref name="text"/> as UTF-16 offsets.</summary>
    public static (int Start, int End) ToUtf16(string text, (int Start, int End) offsets)
    {
        int[] map = CodePointToUtf16(text);
        return (map[Math.Min(offsets.Start, map.Length - 1)], map[Math.Min(offsets.End, map.Length - 1)]);
    }

    /// <summary>Encodes every case with and without special tokens (and decodes, where the reference has it); one line per case that differs anywhere.</summary>
    public static List<string> Failures(DebertaTokenizerBase tokenizer, IReadOnlyList<RustCase> cases)
    {
        var failures = new List<string>();
        foreach (RustCase c in cases)
        {
            TokenEncoding encoding = tokenizer.Encode(c.Text, c.TextPair);
            string? with = Compare(c.WithSpecial, encoding, c.Text, c.TextPair, full: true);
            if (with is null && c.Decoded is not null && tokenizer.Decode(encoding.InputIds) is string decoded && decoded != c.Decoded)
            {
                with = $"decoded: expected {JsonSerializer.Serialize(c.Decoded)} got {JsonSerializer.Serialize(decoded)}";
            }

            string? without = Compare(
                c.WithoutSpecial, tokenizer.Encode(c.Text, c.TextPair, new EncodeOptions { AddSpecialTokens = false }), c.Text, c.TextPair, full: false);
            if (with is not null || without is not null)
            {
                string label = JsonSerializer.Serialize(c.Text.Length > 80 ? c.Text[..80] : c.Text);
                failures.Add($"#{c.Index} {label}{(c.TextPair is null ? "" : " + pair")}: {with ?? "(with specials ok)"} | {without ?? "(without ok)"}");
            }
        }

        return failures;
    }

    /// <summary>Compares one encoding; returns the first difference or <c>null</c>.</summary>
    public static string? Compare(RustEncoding expected, TokenEncoding actual, string text, string? pair, bool full)
    {
        if (!expected.Ids.SequenceEqual(actual.InputIds))
        {
            return $"ids: expected [{string.Join(",", expected.Ids)}] got [{string.Join(",", actual.InputIds)}] tokens [{string.Join(" ", actual.Tokens)}]";
        }

        for (int k = 0; k < expected.Offsets.Length; k++)
        {
            string source = actual.SequenceIds[k] == 1 ? pair! : text;
            (int s, int e) = actual.SequenceIds[k] is null ? expected.Offsets[k] : ToUtf16(source, expected.Offsets[k]);
            if (actual.Offsets[k] != new TokenOffset(s, e))
            {
                return $"offset {k} ('{actual.Tokens[k]}'): expected ({s},{e}) got ({actual.Offsets[k].Start},{actual.Offsets[k].End})";
            }
        }

        if (full)
        {
            if (!expected.TypeIds!.SequenceEqual(actual.TokenTypeIds))
            {
                return $"type ids: expected [{string.Join(",", expected.TypeIds!)}] got [{string.Join(",", actual.TokenTypeIds)}]";
            }

            if (!expected.AttentionMask!.SequenceEqual(actual.AttentionMask))
            {
                return "attention mask differs";
            }

            if (!expected.SpecialTokensMask!.SequenceEqual(actual.SpecialTokensMask))
            {
                return $"special tokens mask: expected [{string.Join(",", expected.SpecialTokensMask!)}] got [{string.Join(",", actual.SpecialTokensMask)}]";
            }

            if (!expected.Tokens!.SequenceEqual(actual.Tokens))
            {
                return $"tokens: expected [{string.Join(" ", expected.Tokens!)}] got [{string.Join(" ", actual.Tokens)}]";
            }
        }

        return null;
    }

    private static int[] CodePointToUtf16(string text)
    {
        var map = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            map.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
        }

        map.Add(text.Length);
        return [.. map];
    }

    private static RustEncoding Read(JsonElement e)
    {
        static int[]? Ints(JsonElement e, string name) =>
            e.TryGetProperty(name, out JsonElement v) ? v.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;
        return new RustEncoding(
            Ints(e, "ids")!,
            e.GetProperty("offsets").EnumerateArray().Select(o => (o[0].GetInt32(), o[1].GetInt32())).ToArray(),
            e.TryGetProperty("tokens", out JsonElement t) ? t.EnumerateArray().Select(x => x.GetString()!).ToArray() : null,
            Ints(e, "type_ids"),
            Ints(e, "attention_mask"),
            Ints(e, "special_tokens_mask"));
    }
}
