using System.Globalization;
using System.Text;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>A <c>tokenizer.json</c> normalizer: rewrites a piece in place, keeping the alignment.</summary>
internal interface INormalizer
{
    void Normalize(NormalizedText text);
}

/// <summary>Reads the <c>normalizer</c> block.</summary>
internal static class Normalizers
{
    private const string Supported = "Sequence, Precompiled, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Prepend, BertNormalizer";

    public static INormalizer Read(JsonNode node) => node.Type switch
    {
        "Sequence" => new SequenceNormalizer([.. node.Required("normalizers").Items().Select(Read)]),
        "Precompiled" => PrecompiledNormalizer.Read(node),
        "Replace" => new ReplaceNormalizer(TextPattern.Read(node.Required("pattern")), node.RequiredString("content")),
        "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
        "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
        "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
        "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
        "Lowercase" => new LowercaseNormalizer(),
        "Strip" => new StripNormalizer(node.Bool("strip_left", true), node.Bool("strip_right", true)),
        "StripAccents" => new StripAccentsNormalizer(),
        "Prepend" => new PrependNormalizer(node.RequiredString("prepend")),
        "BertNormalizer" => new BertNormalizer(
            node.Bool("clean_text", true), node.Bool("handle_chinese_chars", true),
            node.Has("strip_accents") ? node.Bool("strip_accents", false) : null, node.Bool("lowercase", true)),
        _ => throw node.Unsupported("normalizer", Supported),
    };

    /// <summary>Each code point → its mapping; the first output character replaces it, the others are insertions.</summary>
    public static void MapRunes(NormalizedText text, Func<Rune, string?> map)
    {
        var dest = new List<(int, int)>(text.Length);
        bool changed = false;
        foreach ((_, Rune r) in text.Runes())
        {
            string? mapped = map(r);
            if (mapped is null)
            {
                dest.Add((r.Value, 0));
                continue;
            }

            changed = true;
            int k = 0;
            foreach (Rune m in mapped.EnumerateRunes())
            {
                dest.Add((m.Value, k++ == 0 ? 0 : 1));
            }

        }

        if (changed)
        {
            text.Transform(dest, 0);
        }
    }
}

internal sealed class SequenceNormalizer(IReadOnlyList<INormalizer> parts) : INormalizer
{
    public void Normalize(NormalizedText text)
    {
        foreach (INormalizer n in parts)
        {
            n.Normalize(text);
        }
    }
}

/// <summary>
/// sentencepiece's precompiled charsmap as HF applies it: each grapheme cluster under 6 UTF-8 bytes is looked up whole,
/// else each of its characters; the lookup takes the SHORTEST rule matching a prefix and replaces the whole chunk.
/// </summary>
internal sealed class PrecompiledNormalizer(SentencePieceCharsMap? map) : INormalizer
{
    public static PrecompiledNormalizer Read(JsonNode node)
    {
        JsonNode blob = node.Required("precompiled_charsmap");
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(blob.AsString());
        }
        catch (FormatException)
        {
            throw blob.Error("is not valid base64.");
        }

        try
        {
            return new PrecompiledNormalizer(SentencePieceCharsMap.Create(bytes));
        }
        catch (FormatException ex)
        {
            throw blob.Error($"is not a valid charsmap: {ex.Message}.");
        }
    }

    public void Normalize(NormalizedText text)
    {
        if (map is null || text.Length == 0)
        {
            return;
        }

        string s = text.Text;
        var dest = new List<(int Rune, int Change)>(s.Length);
        bool modified = false;
        TextElementEnumerator graphemes = StringInfo.GetTextElementEnumerator(s);
        while (graphemes.MoveNext())
        {
            int start = graphemes.ElementIndex;
            string grapheme = (string)graphemes.Current;
            if (Encoding.UTF8.GetByteCount(grapheme) < 6 && map.ShortestMatch(Encoding.UTF8.GetBytes(grapheme)) is byte[] whole)
            {
                modified = true;
                Replace(dest, grapheme, Encoding.UTF8.GetString(whole));
                continue;
            }

            foreach (Rune r in grapheme.EnumerateRunes())
            {
                string part = r.ToString();
                if (map.ShortestMatch(Encoding.UTF8.GetBytes(part)) is byte[] norm)
                {
                    modified = true;
                    Replace(dest, part, Encoding.UTF8.GetString(norm));
                }
                else
                {
                    dest.Add((r.Value, 0));
                }
            }

            _ = start;
        }

        if (modified)
        {
            text.Transform(dest, 0);
        }
    }

    /// <summary>HF's <c>replace</c> helper: new characters replace, surplus ones are insertions, a shortfall is taken off the last entry.</summary>
    private static void Replace(List<(int Rune, int Change)> dest, string oldPart, string newPart)
    {
        int oldCount = oldPart.EnumerateRunes().Count();
        int newCount = 0;
        foreach (Rune r in newPart.EnumerateRunes())
        {
            dest.Add((r.Value, 0));
            newCount++;
        }

        int diff = newCount - oldCount;
        if (diff > 0)
        {
            for (int i = dest.Count - diff; i < dest.Count; i++)
            {
                dest[i] = (dest[i].Rune, 1);
            }
        }
        else if (diff < 0 && dest.Count > 0)
        {
            dest[^1] = (dest[^1].Rune, dest[^1].Change + diff);
        }
    }
}

internal sealed class ReplaceNormalizer(TextPattern pattern, string content) : INormalizer
{
    public void Normalize(NormalizedText text) => text.Replace(pattern.FindMatches(text.Text), content);
}

/// <summary>
/// NFC / NFD / NFKC / NFKD. Each run of a starter and the marks after it is normalized on its own; its output
/// characters replace its input characters one by one, surplus ones count as insertions, a shortfall is removed
/// after the last one (the alignment HF's unicode-normalization-alignments produces for the common cases).
/// </summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
{
    public void Normalize(NormalizedText text)
    {
        string s = text.Text;
        if (s.IsNormalized(form))
        {
            return;
        }

        var dest = new List<(int, int)>(s.Length + 8);
        int i = 0;
        while (i < s.Length)
        {
            int end = i + NormalizedText.RuneLength(s, i);
            while (end < s.Length && !IsChunkStart(Rune.GetRuneAt(s, end)))
            {
                end += NormalizedText.RuneLength(s, end);
            }

            string chunk = s[i..end];
            int n = chunk.EnumerateRunes().Count();
            Rune[] output = [.. chunk.Normalize(form).EnumerateRunes()];
            int m = output.Length;
            for (int k = 0; k < m; k++)
            {
                int change = k < n ? 0 : 1;
                if (m < n && k == m - 1)
                {
                    change = m - n;
                }

                dest.Add((output[k].Value, change));
            }

            i = end;
        }

        text.Transform(dest, 0);
    }

    /// <summary>A code point that starts a new normalization chunk: neither a mark nor a Hangul medial/final jamo.</summary>
    private static bool IsChunkStart(Rune r)
    {
        int c = r.Value;
        if ((c >= 0x1160 && c <= 0x11FF) || (c >= 0xD7B0 && c <= 0xD7FF))
        {
            return false;
        }

        return Rune.GetUnicodeCategory(r) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark);
    }
}

/// <summary>Rust's <c>char::to_lowercase</c> per character: full mappings ('İ' → "i̇"), no context rules.</summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public void Normalize(NormalizedText text) => Normalizers.MapRunes(text, r =>
    {
        if (r.Value == 0x130)
        {
            return "i\u0307";
        }

        Rune lower = Rune.ToLowerInvariant(r);
        return lower == r ? null : lower.ToString();
    });
}

internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public void Normalize(NormalizedText text)
    {
        var runes = text.Runes().Select(x => x.Rune).ToList();
        int leading = left ? runes.TakeWhile(Rune.IsWhiteSpace).Count() : 0;
        int trailing = right && leading < runes.Count ? runes.AsEnumerable().Reverse().TakeWhile(Rune.IsWhiteSpace).Count() : 0;
        if (leading == 0 && trailing == 0)
        {
            return;
        }

        var dest = new List<(int, int)>(runes.Count);
        for (int i = leading; i < runes.Count - trailing; i++)
        {
            dest.Add((runes[i].Value, 0));
        }

        text.Transform(dest, leading);
    }
}

/// <summary>Removes combining marks (HF <c>StripAccents</c>), the removal credited to the kept character before them.</summary>
internal sealed class StripAccentsNormalizer : INormalizer
{
    public void Normalize(NormalizedText text) => Filter(text, r => !IsMark(r));

    public static bool IsMark(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>HF <c>filter</c>: removed characters are charged to the kept character before them (leading ones skipped).</summary>
    public static void Filter(NormalizedText text, Func<Rune, bool> keep)
    {
        var dest = new List<(int, int)>(text.Length);
        int removed = 0;
        int removedStart = 0;
        Rune? last = null;
        bool any = false;
        foreach ((_, Rune r) in text.Runes())
        {
            if (keep(r))
            {
                if (last is Rune l)
                {
                    dest.Add((l.Value, -removed));
                }
                else
                {
                    removedStart = removed;
                }

                last = r;
                removed = 0;
            }
            else
            {
                removed++;
                any = true;
            }
        }

        if (!any)
        {
            return;
        }

        if (last is Rune final)
        {
            dest.Add((final.Value, -removed));
        }

        text.Transform(dest, removedStart);
    }
}

internal sealed class PrependNormalizer(string prefix) : INormalizer
{
    public void Normalize(NormalizedText text)
    {
        if (text.Length > 0)
        {
            text.Prepend(prefix);
        }
    }
}

/// <summary>HF <c>BertNormalizer</c>: clean text, space around CJK characters, optional accent stripping and lower-casing.</summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool? stripAccents, bool lowercase) : INormalizer
{
    public void Normalize(NormalizedText text)
    {
        if (cleanText)
        {
            StripAccentsNormalizer.Filter(text, r => !(r.Value == 0 || r.Value == 0xFFFD || IsControl(r)));
            Normalizers.MapRunes(text, r => Rune.IsWhiteSpace(r) && r.Value != ' ' || r.Value is '\t' or '\n' or '\r' ? " " : null);
        }

        if (handleChineseChars)
        {
            var dest = new List<(int, int)>(text.Length);
            bool any = false;
            foreach ((_, Rune r) in text.Runes())
            {
                if (IsChinese(r.Value))
                {
                    any = true;
                    dest.Add((' ', 0));
                    dest.Add((r.Value, 1));
                    dest.Add((' ', 1));
                }
                else
                {
                    dest.Add((r.Value, 0));
                }
            }

            if (any)
            {
                text.Transform(dest, 0);
            }
        }

        if (stripAccents ?? lowercase)
        {
            new UnicodeNormalizer(NormalizationForm.FormD).Normalize(text);
            StripAccentsNormalizer.Filter(text, r => Rune.GetUnicodeCategory(r) != UnicodeCategory.NonSpacingMark);
        }

        if (lowercase)
        {
            new LowercaseNormalizer().Normalize(text);
        }
    }

    private static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r')
        {
            return false;
        }

        return Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned;
    }

    private static bool IsChinese(int c) =>
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
        || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
        || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
