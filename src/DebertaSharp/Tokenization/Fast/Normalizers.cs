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
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?>.AlternateLookup<ReadOnlySpan<char>> _cache =
        new System.Collections.Concurrent.ConcurrentDictionary<string, string?>(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    private int _cached;

    private string?[]? _ascii;

    /// <summary>The charsmap's replacement of each ASCII character on its own.</summary>
    private string?[] Ascii => _ascii ??= [.. Enumerable.Range(0, 128).Select(c => Lookup([(char)c]))];

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
        for (int start = 0; start < s.Length;)
        {
            // An ASCII character followed by ASCII (other than CR LF) is a grapheme of its own: table lookup.
            char c = s[start];
            if (c < 0x80 && (start + 1 == s.Length || (s[start + 1] < 0x80 && !(c == '\r' && s[start + 1] == '\n'))))
            {
                start++;
                if (Ascii[c] is string mapped)
                {
                    modified = true;
                    Replace(dest, [c], mapped);
                }
                else
                {
                    dest.Add((c, 0));
                }

                continue;
            }

            int length = StringInfo.GetNextTextElementLength(s.AsSpan(start));
            ReadOnlySpan<char> grapheme = s.AsSpan(start, length);
            start += length;
            if (Encoding.UTF8.GetByteCount(grapheme) < 6 && Lookup(grapheme) is string whole)
            {
                modified = true;
                Replace(dest, grapheme, whole);
                continue;
            }

            for (int i = 0; i < grapheme.Length;)
            {
                Rune.DecodeFromUtf16(grapheme[i..], out Rune r, out int units);
                if (Lookup(grapheme.Slice(i, units)) is string norm)
                {
                    modified = true;
                    Replace(dest, grapheme.Slice(i, units), norm);
                }
                else
                {
                    dest.Add((r.Value, 0));
                }

                i += units;
            }
        }

        if (modified)
        {
            text.Transform(dest, 0);
        }
    }

    /// <summary>The charsmap's replacement of a chunk (shortest rule), cached per chunk text.</summary>
    private string? Lookup(ReadOnlySpan<char> chunk)
    {
        if (_cache.TryGetValue(chunk, out string? known))
        {
            return known;
        }

        byte[]? match = map!.ShortestMatch(Encoding.UTF8.GetBytes(chunk.ToArray()));
        string? result = match is null ? null : Encoding.UTF8.GetString(match);
        // Bounded: a stream of ever new graphemes must not grow it without end (ConcurrentDictionary.Count locks all).
        if (Volatile.Read(ref _cached) < 100_000 && _cache.TryAdd(chunk, result))
        {
            Interlocked.Increment(ref _cached);
        }

        return result;
    }

    /// <summary>HF's <c>replace</c> helper: new characters replace, surplus ones are insertions, a shortfall is taken off the last entry.</summary>
    private static void Replace(List<(int Rune, int Change)> dest, ReadOnlySpan<char> oldPart, string newPart)
    {
        int oldCount = 0;
        foreach (Rune _ in oldPart.EnumerateRunes())
        {
            oldCount++;
        }

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
/// NFC / NFD / NFKC / NFKD with the alignment of HF's unicode-normalization-alignments: every character is decomposed
/// on its own (its first output character replaces it, the others are insertions), marks are put in canonical order
/// (their changes travel with them), and for NFC / NFKC a character composed into the starter before it is removed,
/// the starter taking its change minus one. Characters whose decomposition came after the Unicode version of that
/// crate's tables (Unicode 11) are left as they are, as the Rust library leaves them.
/// </summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
{
    // Code points with a canonical / compatibility decomposition newer than Unicode 11 (found by running every code point
    // through the Rust library's NFD / NFKD normalizers against ICU 78 / Unicode 17).
    private static readonly (int First, int Last)[] NewerCanonical =
    [
        (0x105C9, 0x105C9), (0x105E4, 0x105E4), (0x11383, 0x11383), (0x11385, 0x11385), (0x1138E, 0x1138E), (0x11391, 0x11391),
        (0x113C5, 0x113C5), (0x113C7, 0x113C8), (0x11938, 0x11938), (0x16121, 0x16128), (0x16D68, 0x16D6A),
    ];

    private static readonly (int First, int Last)[] NewerCompatibility =
    [
        (0x32FF, 0x32FF), (0xA7F1, 0xA7F4), (0xAB69, 0xAB69), (0x105C9, 0x105C9), (0x105E4, 0x105E4), (0x10781, 0x10785),
        (0x10787, 0x107B0), (0x107B2, 0x107BA), (0x11383, 0x11383), (0x11385, 0x11385), (0x1138E, 0x1138E), (0x11391, 0x11391),
        (0x113C5, 0x113C5), (0x113C7, 0x113C8), (0x11938, 0x11938), (0x16121, 0x16128), (0x16D68, 0x16D6A), (0x1CCD6, 0x1CCF9),
        (0x1E030, 0x1E06D), (0x1F16C, 0x1F16C), (0x1FBF0, 0x1FBF9),
    ];

    private readonly bool _compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
    private readonly NormalizationForm _decompose = form is NormalizationForm.FormC or NormalizationForm.FormD
        ? NormalizationForm.FormD
        : NormalizationForm.FormKD;

    public void Normalize(NormalizedText text)
    {
        string s = text.Text;
        if (IsNormalized(s, form))
        {
            return;
        }

        (int, int)[] newer = _decompose == NormalizationForm.FormD ? NewerCanonical : NewerCompatibility;
        var dest = new List<(int Rune, int Change)>(s.Length + 8);
        var chunk = new List<(int Rune, int Change)>();
        foreach ((_, Rune r) in text.Runes())
        {
            if (InRanges(r.Value, newer))
            {
                Flush(chunk, dest);
                dest.Add((r.Value, 0));
                continue;
            }

            // Runs start at decomposed starters, so that a mark or jamo from the next input character still composes.
            int k = 0;
            foreach (Rune d in Normalize(r.ToString(), _decompose).EnumerateRunes())
            {
                if (IsChunkStart(d))
                {
                    Flush(chunk, dest);
                }

                chunk.Add((d.Value, k++ == 0 ? 0 : 1));
            }
        }

        Flush(chunk, dest);
        text.Transform(dest, 0);
    }

    /// <summary>Canonical reordering (and composition) of one starter-and-marks run of decomposed characters.</summary>
    private void Flush(List<(int Rune, int Change)> chunk, List<(int Rune, int Change)> dest)
    {
        if (chunk.Count == 0)
        {
            return;
        }

        string joined = string.Concat(chunk.Select(c => char.ConvertFromUtf32(c.Rune)));
        int[] ordered = [.. Normalize(joined, NormalizationForm.FormD).EnumerateRunes().Select(r => r.Value)];
        var items = Match(chunk, ordered);
        if (_compose)
        {
            int[] composed = [.. Normalize(joined, NormalizationForm.FormC).EnumerateRunes().Select(r => r.Value)];
            if (composed.Length < items.Count)
            {
                // composed[0] comes from items[0] and what it absorbed; the rest are kept items, in order.
                var keptIndex = new List<int>();
                int p = 1;
                for (int i = 1; i < composed.Length; i++)
                {
                    while (p < items.Count && items[p].Rune != composed[i])
                    {
                        p++;
                    }

                    keptIndex.Add(Math.Min(p, items.Count - 1));
                    p++;
                }

                int change = items[0].Change;
                for (int i = 1; i < items.Count; i++)
                {
                    if (!keptIndex.Contains(i))
                    {
                        change += items[i].Change - 1;
                    }
                }

                var result = new List<(int, int)> { (composed[0], change) };
                for (int i = 1; i < composed.Length; i++)
                {
                    result.Add((composed[i], items[keptIndex[i - 1]].Change));
                }

                items = result;
            }
            else if (composed.Length == items.Count)
            {
                items = [.. items.Select((x, i) => (composed[i], x.Change))];
            }
        }

        dest.AddRange(items);
        chunk.Clear();
    }

    /// <summary>The chunk's entries in canonical order: each ordered character takes the first unused equal entry.</summary>
    private static List<(int Rune, int Change)> Match(List<(int Rune, int Change)> chunk, int[] ordered)
    {
        if (ordered.Length != chunk.Count)
        {
            return [.. ordered.Select((r, i) => (r, i < chunk.Count ? chunk[i].Change : 1))];
        }

        var used = new bool[chunk.Count];
        var result = new List<(int, int)>(chunk.Count);
        foreach (int r in ordered)
        {
            int j = 0;
            while (j < chunk.Count && (used[j] || chunk[j].Rune != r))
            {
                j++;
            }

            if (j == chunk.Count)
            {
                return [.. ordered.Select((x, i) => (x, chunk[i].Change))];
            }

            used[j] = true;
            result.Add((r, chunk[j].Change));
        }

        return result;
    }

    private static bool InRanges(int c, (int First, int Last)[] ranges)
    {
        foreach ((int first, int last) in ranges)
        {
            if (c >= first && c <= last)
            {
                return true;
            }
        }

        return false;
    }

    // .NET refuses strings with noncharacters (U+FFFE, U+FDD0, ...); normalization leaves those alone.
    private static bool IsNormalized(string s, NormalizationForm form)
    {
        try
        {
            return s.IsNormalized(form);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Normalize(string chunk, NormalizationForm form)
    {
        try
        {
            return chunk.Normalize(form);
        }
        catch (ArgumentException)
        {
            var sb = new StringBuilder(chunk.Length);
            foreach (Rune r in chunk.EnumerateRunes())
            {
                string one = r.ToString();
                try
                {
                    sb.Append(one.Normalize(form));
                }
                catch (ArgumentException)
                {
                    sb.Append(one);
                }
            }

            return sb.ToString();
        }
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
        string s = text.Text;
        if (s.Length == 0 || ((!left || !char.IsWhiteSpace(s[0])) && (!right || !char.IsWhiteSpace(s[^1]))))
        {
            return;
        }

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

        // Noncharacters (U+FDD0..U+FDEF, U+xxFFFE/F) are not "other" in the Rust library's category tables.
        if ((r.Value >= 0xFDD0 && r.Value <= 0xFDEF) || (r.Value & 0xFFFE) == 0xFFFE)
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
