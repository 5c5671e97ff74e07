using System.Text;

namespace DebertaSharp.Tokenization;

/// <summary>
/// GPT-2's pre-tokenization regex <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>
/// as a scanner over code points. .NET's <c>Regex</c> (and so ML.Tokenizers' <c>RobertaPreTokenizer</c>) sees an astral
/// letter such as U+20000 as two surrogates of category Cs, not as a letter, and would split words Python keeps whole.
/// </summary>
internal static class Gpt2PreTokenizer
{
    private enum Kind
    {
        Letter,
        Number,
        Space,
        Other,
    }

    /// <summary>Adds the <c>(start, end)</c> spans of the pre-tokens of <c>text[start..end]</c>.</summary>
    public static void Split(string text, int start, int end, List<(int Start, int End)> output)
    {
        int i = start;
        while (i < end)
        {
            int next = Next(text, i, end);
            output.Add((i, next));
            i = next;
        }
    }

    private static int Next(string text, int i, int end)
    {
        char c = text[i];
        if (c == '\'' && i + 1 < end)
        {
            char a = text[i + 1];
            if (a is 's' or 't' or 'm' or 'd')
            {
                return i + 2;
            }

            if (i + 2 < end)
            {
                char b = text[i + 2];
                if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                {
                    return i + 3;
                }
            }
        }

        // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional single space, then a run of one class.
        int j = c == ' ' && i + 1 < end && KindAt(text, i + 1, out _) != Kind.Space ? i + 1 : i;
        Kind kind = KindAt(text, j, out int length);
        if (kind != Kind.Space)
        {
            int k = j + length;
            while (k < end && KindAt(text, k, out int l) == kind)
            {
                k += l;
            }

            return k;
        }

        // "\s+(?!\S)": a whitespace run, minus its last char when a non-space follows; else "\s+" (one char).
        int r = i + length;
        while (r < end && KindAt(text, r, out int l) == Kind.Space)
        {
            r += l;
        }

        return r == end || r - i == 1 ? r : r - 1;
    }

    private static Kind KindAt(string text, int index, out int length)
    {
        Rune.DecodeFromUtf16(text.AsSpan(index), out Rune rune, out length);
        if (Rune.IsWhiteSpace(rune))
        {
            return Kind.Space;
        }

        if (Rune.IsLetter(rune))
        {
            return Kind.Letter;
        }

        return Rune.IsNumber(rune) ? Kind.Number : Kind.Other;
    }
}
