using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>
/// What Replace / Split look for: <c>{"String": s}</c> (literal) or <c>{"Regex": r}</c> (HF uses Oniguruma; here
/// .NET <see cref="Regex"/>, which agrees on the patterns tokenizers ship but, like every .NET regex, sees an
/// astral character as two surrogates: <c>\p{L}</c> does not match U+20000).
/// </summary>
internal sealed class TextPattern
{
    private readonly Regex? _regex;
    private readonly string? _literal;

    private TextPattern(Regex? regex, string? literal)
    {
        _regex = regex;
        _literal = literal;
    }

    /// <summary>Reads a pattern object.</summary>
    public static TextPattern Read(JsonNode node)
    {
        if (node.Child("String") is JsonNode s)
        {
            return new TextPattern(null, s.AsString());
        }

        if (node.Child("Regex") is JsonNode r)
        {
            string source = r.AsString();
            try
            {
                return new TextPattern(new Regex(source, RegexOptions.CultureInvariant), null);
            }
            catch (ArgumentException ex)
            {
                throw r.Error($"regex '{source}' is not valid for .NET: {ex.Message}");
            }
        }

        throw node.Error("a pattern must be {\"String\": ...} or {\"Regex\": ...}.");
    }

    /// <summary>The matches and the stretches between them, covering <paramref name="text"/> (HF <c>find_matches</c>).</summary>
    public List<(int Start, int End, bool IsMatch)> FindMatches(string text)
    {
        var result = new List<(int, int, bool)>();
        if (_literal is not null && _literal.Length == 0)
        {
            result.Add((0, text.Length, false));
            return result;
        }

        if (text.Length == 0)
        {
            result.Add((0, 0, false));
            return result;
        }

        int prev = 0;
        void Add(int start, int end)
        {
            if (prev != start)
            {
                result.Add((prev, start, false));
            }

            result.Add((start, end, true));
            prev = end;
        }

        if (_literal is not null)
        {
            for (int i = text.IndexOf(_literal, StringComparison.Ordinal); i >= 0; i = text.IndexOf(_literal, prev, StringComparison.Ordinal))
            {
                Add(i, i + _literal.Length);
                if (prev >= text.Length)
                {
                    break;
                }
            }
        }
        else
        {
            foreach (Match m in _regex!.Matches(text))
            {
                Add(m.Index, m.Index + m.Length);
            }
        }

        if (prev != text.Length)
        {
            result.Add((prev, text.Length, false));
        }

        return result;
    }

    /// <summary>Every code point for which <paramref name="predicate"/> holds is a match of its own (HF's char-predicate pattern).</summary>
    public static List<(int Start, int End, bool IsMatch)> FindMatches(string text, Func<Rune, bool> predicate)
    {
        var result = new List<(int, int, bool)>();
        if (text.Length == 0)
        {
            result.Add((0, 0, false));
            return result;
        }

        int last = 0;
        for (int i = 0; i < text.Length;)
        {
            Rune r = Rune.GetRuneAt(text, i);
            int next = i + r.Utf16SequenceLength;
            if (predicate(r))
            {
                if (last < i)
                {
                    result.Add((last, i, false));
                }

                result.Add((i, next, true));
                last = next;
            }

            i = next;
        }

        if (last < text.Length)
        {
            result.Add((last, text.Length, false));
        }

        return result;
    }

    /// <summary>Flips match and non-match (HF <c>Invert</c>).</summary>
    public static List<(int Start, int End, bool IsMatch)> Invert(List<(int Start, int End, bool IsMatch)> matches) =>
        matches.ConvertAll(m => (m.Start, m.End, !m.IsMatch));

    /// <summary>Rust's <c>char::is_whitespace</c> (the White_Space property).</summary>
    public static bool IsWhiteSpace(Rune r) => Rune.IsWhiteSpace(r);

    /// <summary>HF's punctuation test: ASCII punctuation or any Unicode P* category.</summary>
    public static bool IsPunctuation(Rune r)
    {
        int c = r.Value;
        if (c < 128)
        {
            return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
        }

        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>Rust regex's Unicode <c>\w</c>: Alphabetic (letters, letter numbers, circled/squared letters), marks, decimal digits, connector punctuation, joiners.</summary>
    public static bool IsWordChar(Rune r)
    {
        // Joiners, and the symbols that are Other_Alphabetic (circled and squared Latin letters).
        int c = r.Value;
        if (c is 0x200C or 0x200D || (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149)
            || (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
        {
            return true;
        }

        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
                or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
                or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }
}
