namespace DebertaSharp.Tokenization;

/// <summary>A stretch of the input: plain text to tokenize, or one added token.</summary>
internal readonly record struct TextSegment(int Start, int End, AddedToken? Token);

/// <summary>
/// Splits text on added tokens the way HF 4.44's slow <c>PreTrainedTokenizer.tokenize</c> does: leftmost, longest
/// match; then <c>lstrip</c> / <c>rstrip</c> remove Python whitespace from the neighbouring text and
/// <c>single_word</c> tokens glued to a word become text again. Microsoft.ML.Tokenizers does not do this.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar = [];

    /// <summary>Indexes the tokens by first character, longest first.</summary>
    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        foreach (IGrouping<char, AddedToken> group in tokens.Where(t => t.Content.Length > 0).GroupBy(t => t.Content[0]))
        {
            _byFirstChar[group.Key] = group.OrderByDescending(t => t.Content.Length).ToArray();
        }
    }

    /// <summary>Splits <paramref name="text"/> into text and added-token segments (empty text segments dropped).</summary>
    public List<TextSegment> Split(string text)
    {
        var raw = new List<TextSegment>();
        int textStart = 0;
        for (int i = 0; i < text.Length;)
        {
            AddedToken? match = MatchAt(text, i);
            if (match is null)
            {
                i++;
                continue;
            }

            if (i > textStart)
            {
                raw.Add(new TextSegment(textStart, i, null));
            }

            raw.Add(new TextSegment(i, i + match.Content.Length, match));
            i += match.Content.Length;
            textStart = i;
        }

        if (textStart < text.Length)
        {
            raw.Add(new TextSegment(textStart, text.Length, null));
        }

        if (raw.Count == 1 || raw.TrueForAll(s => s.Token is null))
        {
            return raw;
        }

        ApplyStripping(text, raw);
        return MergeText(raw);
    }

    private AddedToken? MatchAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out AddedToken[]? candidates))
        {
            return null;
        }

        foreach (AddedToken t in candidates)
        {
            if (i + t.Content.Length <= text.Length && string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) == 0)
            {
                return t;
            }
        }

        return null;
    }

    private static void ApplyStripping(string text, List<TextSegment> segments)
    {
        for (int i = 0; i < segments.Count; i++)
        {
            AddedToken? token = segments[i].Token;
            if (token is null)
            {
                continue;
            }

            bool hasLeft = i > 0 && segments[i - 1].End > segments[i - 1].Start;
            bool hasRight = i + 1 < segments.Count && segments[i + 1].End > segments[i + 1].Start;
            TextSegment left = hasLeft ? segments[i - 1] : default;
            TextSegment right = hasRight ? segments[i + 1] : default;

            if (token.RStrip && hasRight && right.Token is null)
            {
                int s = right.Start;
                while (s < right.End && TextUtilities.IsPythonSpace(text[s]))
                {
                    s++;
                }

                segments[i + 1] = right with { Start = s };
            }

            if (token.LStrip && hasLeft && left.Token is null)
            {
                int e = left.End;
                while (e > left.Start && TextUtilities.IsPythonSpace(text[e - 1]))
                {
                    e--;
                }

                segments[i - 1] = left with { End = e };
            }

            // single_word: a token glued to a word is not a token (HF checks the neighbours as they were before stripping).
            if (token.SingleWord && hasLeft && text[left.End - 1] != ' ')
            {
                segments[i] = segments[i] with { Token = null };
            }
            else if (token.SingleWord && hasRight && text[right.Start] != ' ')
            {
                segments[i] = segments[i] with { Token = null };
            }
        }
    }

    private static List<TextSegment> MergeText(List<TextSegment> segments)
    {
        var result = new List<TextSegment>(segments.Count);
        foreach (TextSegment s in segments)
        {
            if (s.Token is null && s.End <= s.Start)
            {
                continue;
            }

            if (s.Token is null && result.Count > 0 && result[^1].Token is null && result[^1].End == s.Start)
            {
                result[^1] = result[^1] with { End = s.End };
                continue;
            }

            result.Add(s);
        }

        return result;
    }
}
