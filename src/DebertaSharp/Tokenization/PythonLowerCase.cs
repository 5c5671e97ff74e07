using System.Text;

namespace DebertaSharp.Tokenization;

/// <summary>
/// HF's <c>do_lower_case</c> step of <c>PreTrainedTokenizer.tokenize</c>: the text is scanned left to right; where
/// one of the protected tokens starts (special tokens first, in HF's <c>all_special_tokens</c> order) it is kept
/// as is, otherwise ONE character is lower-cased with Python's <c>str.lower()</c>. One character at a time means
/// no context rules (a word-final 'Σ' becomes 'σ', never 'ς'), and Python's full mapping turns 'İ' (U+0130) into
/// 'i' + U+0307 — the only unconditional lower-case mapping in SpecialCasing.txt longer than one code point.
/// </summary>
internal sealed class PythonLowerCase
{
    private readonly string[] _protected;
    private readonly HashSet<char> _firstChars;

    /// <summary>Creates the step; <paramref name="protectedTokens"/> in the order HF's regex alternation tries them.</summary>
    public PythonLowerCase(IEnumerable<string> protectedTokens)
    {
        _protected = protectedTokens.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        _firstChars = _protected.Select(t => t[0]).ToHashSet();
    }

    /// <summary>
    /// Lower-cases <paramref name="text"/>. <paramref name="origin"/> gets, for every UTF-16 unit of the result, the
    /// index in <paramref name="text"/> of the unit it came from; <c>null</c> when the lengths are equal (then the
    /// indices are the same).
    /// </summary>
    public string Apply(string text, out int[]? origin)
    {
        origin = null;
        char[] result = text.ToCharArray();
        List<char>? expanded = null;  // used from the first change of length on
        List<int>? map = null;
        Span<char> lower = stackalloc char[3];
        for (int i = 0; i < text.Length;)
        {
            int units;
            int written;
            int kept = _firstChars.Contains(text[i]) ? ProtectedAt(text, i) : 0;
            if (kept > 0)
            {
                units = kept;
                written = -1;
            }
            else
            {
                Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out units);
                written = rune.Value == 0x130 ? WriteDotted(lower) : Lower(rune).EncodeToUtf16(lower);
                if (expanded is null && written != units)
                {
                    expanded = new List<char>(text.Length + 8);
                    map = new List<int>(text.Length + 8);
                    for (int k = 0; k < i; k++)
                    {
                        expanded.Add(result[k]);
                        map.Add(k);
                    }
                }
            }

            if (expanded is null)
            {
                if (written > 0)
                {
                    lower[..written].CopyTo(result.AsSpan(i));
                }
            }
            else if (written < 0)
            {
                for (int k = 0; k < units; k++)
                {
                    expanded.Add(text[i + k]);
                    map!.Add(i + k);
                }
            }
            else
            {
                for (int k = 0; k < written; k++)
                {
                    expanded.Add(lower[k]);
                    map!.Add(i + Math.Min(k, units - 1));
                }
            }

            i += units;
        }

        if (expanded is null)
        {
            return new string(result);
        }

        origin = map!.ToArray();
        return new string(expanded.ToArray());
    }

    private static int WriteDotted(Span<char> output)
    {
        output[0] = 'i';
        output[1] = '\u0307';
        return 2;
    }

    /// <summary>
    /// Python's lower case of one code point other than U+0130: .NET's invariant simple mapping, which equals Python
    /// 3.11's (Unicode 14) for every code point (PythonLowerCaseTests checks all of them).
    /// </summary>
    public static Rune Lower(Rune rune) => Rune.ToLowerInvariant(rune);

    /// <summary>Length of the protected token starting at <paramref name="i"/>, or 0.</summary>
    private int ProtectedAt(string text, int i)
    {
        foreach (string token in _protected)
        {
            if (text.AsSpan(i).StartsWith(token, StringComparison.Ordinal))
            {
                return token.Length;
            }
        }

        return 0;
    }
}
