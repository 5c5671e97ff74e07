using System.Text;

namespace DebertaSharp.Tokenization;

/// <summary>Small string helpers shared by both tokenizers.</summary>
internal static class TextUtilities
{
    /// <summary>
    /// Replaces lone UTF-16 surrogates by U+FFFD (same length, so offsets stay valid). Every later step can then
    /// assume well-formed text; Python would refuse such a string, we must not crash on it.
    /// </summary>
    public static string ReplaceLoneSurrogates(string text)
    {
        int bad = FirstLoneSurrogate(text);
        if (bad < 0)
        {
            return text;
        }

        char[] chars = text.ToCharArray();
        for (int i = bad; i < chars.Length; i++)
        {
            char c = chars[i];
            if (char.IsHighSurrogate(c) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                chars[i] = '\uFFFD';
            }
        }

        return new string(chars);
    }

    private static int FirstLoneSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            return i;
        }

        return -1;
    }

    /// <summary>Python's <c>str.isspace()</c> for one UTF-16 unit (the whitespace <c>str.strip()</c> removes): .NET's set plus U+001C..U+001F.</summary>
    public static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || (c >= '\u001C' && c <= '\u001F');

    /// <summary>
    /// HF's <c>clean_up_tokenization</c>: removes the space before some punctuation and English contractions.
    /// </summary>
    public static string CleanUpTokenization(string text)
    {
        var sb = new StringBuilder(text);
        sb.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
          .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
        return sb.ToString();
    }

    /// <summary>Python's <c>str.strip()</c>.</summary>
    public static string PythonStrip(string text)
    {
        int start = 0, end = text.Length;
        while (start < end && IsPythonSpace(text[start]))
        {
            start++;
        }

        while (end > start && IsPythonSpace(text[end - 1]))
        {
            end--;
        }

        return text.Substring(start, end - start);
    }
}
