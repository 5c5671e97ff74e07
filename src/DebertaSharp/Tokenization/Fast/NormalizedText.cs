using System.Text;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>
/// A piece of the input being normalized, with an alignment of every normalized UTF-16 unit to a span of the
/// original string: HF tokenizers' <c>NormalizedString</c>. The rules for aligning inserted and removed
/// characters are the Rust library's (<c>transform_range</c>): a replacing character takes the alignment of the
/// character it replaces, an inserted one that of the character before it, removed ones vanish. Alignments are
/// kept in UTF-16 indices of the whole input (the Rust library keeps bytes of the slice, which maps one to one).
/// </summary>
internal sealed class NormalizedText
{
    private string _text;
    private (int Start, int End)[] _align;

    /// <summary>Wraps <c>input[start..end]</c>, not yet normalized.</summary>
    public NormalizedText(string input, int start, int end)
    {
        _text = input.Substring(start, end - start);
        _align = new (int, int)[_text.Length];
        for (int i = 0; i < _text.Length;)
        {
            int units = char.IsHighSurrogate(_text[i]) && i + 1 < _text.Length && char.IsLowSurrogate(_text[i + 1]) ? 2 : 1;
            for (int j = 0; j < units; j++)
            {
                _align[i + j] = (start + i, start + i + units);
            }

            i += units;
        }

        OriginalStart = start;
        OriginalEnd = end;
    }

    private NormalizedText(string text, (int, int)[] align, int originalStart, int originalEnd)
    {
        _text = text;
        _align = align;
        OriginalStart = originalStart;
        OriginalEnd = originalEnd;
    }

    /// <summary>The normalized text.</summary>
    public string Text => _text;

    /// <summary>Length of <see cref="Text"/> in UTF-16 units.</summary>
    public int Length => _text.Length;

    /// <summary>Start of the original span this piece covers (HF <c>offsets_original().0</c>).</summary>
    public int OriginalStart { get; }

    /// <summary>End of the original span this piece covers.</summary>
    public int OriginalEnd { get; }

    /// <summary>Original span of the normalized range <c>[start, end)</c> (HF <c>convert_offsets</c>, normalized side).</summary>
    public (int Start, int End) ToOriginal(int start, int end)
    {
        if (start >= end)
        {
            // The Rust library returns the empty normalized range itself, shifted by the slice's start.
            return (OriginalStart + start, OriginalStart + end);
        }

        return (_align[start].Start, _align[end - 1].End);
    }

    /// <summary>The sub-piece of normalized range <c>[start, end)</c> (HF <c>slice</c>).</summary>
    public NormalizedText Slice(int start, int end)
    {
        (int os, int oe) = end > start ? ToOriginal(start, end) : (OriginalStart, OriginalStart);
        return new NormalizedText(_text.Substring(start, end - start), _align[start..end], os, oe);
    }

    /// <summary>
    /// Replaces the whole text by <paramref name="dest"/>: each entry is a code point and its change, 0 = replaces
    /// the next original character, +1 = inserted, -n = replaces the next character and removes the n after it.
    /// <paramref name="initialOffset"/> characters are removed from the start first (HF <c>transform</c>).
    /// </summary>
    public void Transform(IReadOnlyList<(int Rune, int Change)> dest, int initialOffset)
    {
        int skip = 0;
        for (int k = 0; k < initialOffset && skip < _text.Length; k++)
        {
            skip += RuneLength(_text, skip);
        }

        TransformRange(0, _text.Length, dest, skip);
    }

    /// <summary>HF <c>replace</c>: every match of <paramref name="matches"/> becomes <paramref name="content"/>, aligned to the last character it replaces.</summary>
    public void Replace(IReadOnlyList<(int Start, int End, bool IsMatch)> matches, string content)
    {
        if (!matches.Any(m => m.IsMatch))
        {
            return;
        }

        var text = new StringBuilder(_text.Length);
        var align = new List<(int, int)>(_text.Length);
        foreach ((int start, int end, bool isMatch) in matches)
        {
            if (!isMatch)
            {
                text.Append(_text, start, end - start);
                align.AddRange(_align[start..end]);
                continue;
            }

            (int, int) a = end < 1 ? (OriginalStart, OriginalStart) : _align[end - 1];
            text.Append(content);
            for (int k = 0; k < content.Length; k++)
            {
                align.Add(a);
            }
        }

        _text = text.ToString();
        _align = [.. align];
    }

    /// <summary>HF <c>prepend</c>: inserts <paramref name="s"/> before the first character; every inserted character takes the first character's alignment.</summary>
    public void Prepend(string s)
    {
        if (_text.Length == 0)
        {
            return;
        }

        var dest = new List<(int, int)>();
        int i = 0;
        foreach (Rune r in s.EnumerateRunes())
        {
            dest.Add((r.Value, i++ == 0 ? 0 : 1));
        }

        // The first inserted character replaces the old first one, which then follows as an insertion.
        Rune first = Rune.GetRuneAt(_text, 0);
        dest.Add((first.Value, 1));
        TransformRange(0, first.Utf16SequenceLength, dest, 0);
    }

    /// <summary>HF <c>append</c>.</summary>
    public void Append(string s)
    {
        if (_text.Length == 0)
        {
            return;
        }

        var dest = new List<(int, int)>();
        int lastStart = _text.Length - (char.IsLowSurrogate(_text[^1]) && _text.Length > 1 && char.IsHighSurrogate(_text[^2]) ? 2 : 1);
        dest.Add((Rune.GetRuneAt(_text, lastStart).Value, 0));
        foreach (Rune r in s.EnumerateRunes())
        {
            dest.Add((r.Value, 1));
        }

        TransformRange(lastStart, _text.Length, dest, 0);
    }

    /// <summary>Splits into pieces by pattern matches and a delimiter behavior (HF <c>split</c>); empty pieces are dropped.</summary>
    public List<NormalizedText> Split(List<(int Start, int End, bool IsMatch)> matches, SplitBehavior behavior)
    {
        var spans = new List<(int Start, int End, bool Remove)>();
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var m in matches)
                {
                    spans.Add((m.Start, m.End, false));
                }

                break;
            case SplitBehavior.Removed:
                foreach (var m in matches)
                {
                    spans.Add((m.Start, m.End, m.IsMatch));
                }

                break;
            case SplitBehavior.Contiguous:
            {
                bool previous = false;
                foreach (var m in matches)
                {
                    if (m.IsMatch == previous && spans.Count > 0)
                    {
                        spans[^1] = (spans[^1].Start, m.End, false);
                    }
                    else
                    {
                        spans.Add((m.Start, m.End, false));
                    }

                    previous = m.IsMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithPrevious:
            {
                bool previous = false;
                foreach (var m in matches)
                {
                    if (m.IsMatch && !previous && spans.Count > 0)
                    {
                        spans[^1] = (spans[^1].Start, m.End, false);
                    }
                    else
                    {
                        spans.Add((m.Start, m.End, false));
                    }

                    previous = m.IsMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                bool previous = false;
                for (int i = matches.Count - 1; i >= 0; i--)
                {
                    var m = matches[i];
                    if (m.IsMatch && !previous && spans.Count > 0)
                    {
                        spans[^1] = (m.Start, spans[^1].End, false);
                    }
                    else
                    {
                        spans.Add((m.Start, m.End, false));
                    }

                    previous = m.IsMatch;
                }

                spans.Reverse();
                break;
            }
        }

        var result = new List<NormalizedText>(spans.Count);
        foreach (var (start, end, remove) in spans)
        {
            if (!remove && end > start)
            {
                result.Add(Slice(start, end));
            }
        }

        return result;
    }

    /// <summary>Number of UTF-16 units of the code point at <paramref name="i"/>.</summary>
    public static int RuneLength(string s, int i) =>
        char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;

    /// <summary>The code points of the text with their change 0 (a starting point for transformations).</summary>
    public IEnumerable<(int Start, Rune Rune)> Runes()
    {
        for (int i = 0; i < _text.Length;)
        {
            Rune r = Rune.GetRuneAt(_text, i);
            yield return (i, r);
            i += r.Utf16SequenceLength;
        }
    }

    /// <summary>HF <c>transform_range</c> on the units <c>[start, end)</c>; <paramref name="skip"/> units at its start are removed first.</summary>
    private void TransformRange(int start, int end, IReadOnlyList<(int Rune, int Change)> dest, int skip)
    {
        var text = new StringBuilder(_text.Length + 8);
        var align = new List<(int, int)>(_text.Length + 8);
        text.Append(_text, 0, start);
        align.AddRange(_align[..start]);
        int p = start + skip;
        foreach ((int rune, int change) in dest)
        {
            (int, int) a;
            if (change > 0)
            {
                a = p < 1 ? (OriginalStart, OriginalStart) : _align[p - 1];
            }
            else
            {
                // A malformed change list would make the Rust library panic; here it keeps the last alignment.
                a = _align.Length == 0 ? (OriginalStart, OriginalStart) : _align[Math.Min(p, _align.Length - 1)];
                for (int k = 0; k <= -change && p < _text.Length; k++)
                {
                    p += RuneLength(_text, p);
                }
            }

            if (rune < 0x10000)
            {
                text.Append((char)rune);
                align.Add(a);
            }
            else
            {
                text.Append(char.ConvertFromUtf32(rune));
                align.Add(a);
                align.Add(a);
            }
        }

        text.Append(_text, end, _text.Length - end);
        align.AddRange(_align[end..]);
        _text = text.ToString();
        _align = [.. align];
    }
}

/// <summary>What a split does with the matched delimiter (HF <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    /// <summary>The delimiter is dropped.</summary>
    Removed,

    /// <summary>The delimiter is a piece of its own.</summary>
    Isolated,

    /// <summary>The delimiter joins the piece before it.</summary>
    MergedWithPrevious,

    /// <summary>The delimiter joins the piece after it.</summary>
    MergedWithNext,

    /// <summary>Consecutive delimiters form one piece.</summary>
    Contiguous,
}
