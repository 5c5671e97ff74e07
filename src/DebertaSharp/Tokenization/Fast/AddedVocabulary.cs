namespace DebertaSharp.Tokenization.Fast;

/// <summary>
/// The <c>added_tokens</c> of <c>tokenizer.json</c> as HF's Rust <c>AddedVocabulary</c> uses them: tokens with
/// <c>normalized: false</c> are found in the raw text first, the others in the normalized text; leftmost-longest
/// matching, <c>single_word</c> / <c>lstrip</c> / <c>rstrip</c> as the Rust library checks them.
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Dictionary<string, int> _byContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _byId = [];
    private readonly Matcher _raw;
    private readonly Matcher _normalized;
    private readonly Dictionary<int, string> _normalizedForms = [];

    /// <summary>Adds the tokens in file order, giving ids as the Rust library does (vocabulary id, else the next free one).</summary>
    public AddedVocabulary(IReadOnlyList<AddedToken> tokens, ITokenizerModel model, INormalizer? normalizer)
    {
        Dictionary<int, string> normalizedForms = _normalizedForms;
        int nextId = model.VocabularySize;
        foreach (AddedToken token in tokens)
        {
            if (token.Content.Length == 0)
            {
                continue;
            }

            if (_byContent.TryGetValue(token.Content, out int existing) && _byId[existing] == token with { Id = existing })
            {
                continue;
            }

            int id = _byContent.TryGetValue(token.Content, out int known) ? known : model.TokenToId(token.Content) ?? nextId++;
            if (token.Normalized && normalizer is not null)
            {
                var text = new NormalizedText(token.Content, 0, token.Content.Length);
                normalizer.Normalize(text);
                if (text.Text != token.Content)
                {
                    normalizedForms[id] = text.Text;
                }
            }

            _byContent[token.Content] = id;
            _byId[id] = token with { Id = id };
        }

        _raw = new Matcher(_byId.Values.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalized = new Matcher(_byId.Values.Where(t => t.Normalized)
            .Select(t => (normalizedForms.TryGetValue(t.Id, out string? n) ? n : t.Content, t)));
    }

    /// <summary>The tokens by id.</summary>
    public IReadOnlyDictionary<int, AddedToken> ById => _byId;

    /// <summary>
    /// The string an added token decodes from (tokenizers 0.23 <c>simple_id_to_token</c>): its normalized form for a
    /// <c>normalized</c> token whose content the normalizer changes, else its content.
    /// </summary>
    public string DecodingForm(string content) =>
        _byContent.TryGetValue(content, out int id) && _normalizedForms.TryGetValue(id, out string? form) ? form : content;

    /// <summary>Id of an added token's content, or <c>null</c>.</summary>
    public int? TokenToId(string content) => _byContent.TryGetValue(content, out int id) ? id : null;

    /// <summary>Splits off the raw-text matches (tokens not normalized).</summary>
    public List<(NormalizedText Text, AddedToken? Token)> SplitRaw(NormalizedText text) => Split(text, _raw);

    /// <summary>Splits off the normalized-text matches (tokens normalized).</summary>
    public List<(NormalizedText Text, AddedToken? Token)> SplitNormalized(NormalizedText text) => Split(text, _normalized);

    private static List<(NormalizedText, AddedToken?)> Split(NormalizedText text, Matcher matcher)
    {
        var result = new List<(NormalizedText, AddedToken?)>();
        foreach ((int start, int end, AddedToken? token) in matcher.FindMatches(text.Text))
        {
            if (end > start)
            {
                result.Add((text.Slice(start, end), token));
            }
        }

        return result;
    }

    /// <summary>Leftmost-longest literal matching over the token contents, with the Rust library's word and strip checks.</summary>
    private sealed class Matcher
    {
        private readonly Dictionary<char, List<(string Pattern, AddedToken Token)>> _byFirst = [];

        public Matcher(IEnumerable<(string Pattern, AddedToken Token)> patterns)
        {
            foreach ((string pattern, AddedToken token) in patterns)
            {
                if (pattern.Length == 0)
                {
                    continue;
                }

                if (!_byFirst.TryGetValue(pattern[0], out var list))
                {
                    _byFirst[pattern[0]] = list = [];
                }

                list.Add((pattern, token));
            }

            foreach (var list in _byFirst.Values)
            {
                list.Sort((a, b) => b.Pattern.Length.CompareTo(a.Pattern.Length));
            }
        }

        public List<(int Start, int End, AddedToken? Token)> FindMatches(string s)
        {
            var splits = new List<(int, int, AddedToken?)>();
            if (s.Length == 0)
            {
                return splits;
            }

            int startOffset = 0;
            int i = 0;
            while (i < s.Length)
            {
                (string Pattern, AddedToken Token)? found = null;
                if (_byFirst.TryGetValue(s[i], out var candidates))
                {
                    foreach (var c in candidates)
                    {
                        if (i + c.Pattern.Length <= s.Length && string.CompareOrdinal(s, i, c.Pattern, 0, c.Pattern.Length) == 0)
                        {
                            found = c;
                            break;
                        }
                    }
                }

                if (found is not (string pattern, AddedToken token))
                {
                    i++;
                    continue;
                }

                int start = i, stop = i + pattern.Length;
                i = stop;
                if (token.SingleWord)
                {
                    bool startSpace = start == 0 || !EndsWithWord(s, start);
                    bool stopSpace = stop == s.Length || !StartsWithWord(s, stop);
                    if (!startSpace || !stopSpace)
                    {
                        continue;
                    }
                }

                if (token.LStrip)
                {
                    int newStart = start;
                    while (newStart > 0 && char.IsWhiteSpace(s[newStart - 1]))
                    {
                        newStart--;
                    }

                    start = Math.Max(newStart, startOffset);
                }

                if (token.RStrip)
                {
                    while (stop < s.Length && char.IsWhiteSpace(s[stop]))
                    {
                        stop++;
                    }
                }

                if (startOffset < start)
                {
                    splits.Add((startOffset, start, null));
                }

                splits.Add((start, stop, token));
                startOffset = stop;
                i = Math.Max(i, stop);
            }

            if (startOffset != s.Length)
            {
                splits.Add((startOffset, s.Length, null));
            }

            return splits;
        }

        private static bool EndsWithWord(string s, int end)
        {
            int i = end - 1;
            if (char.IsLowSurrogate(s[i]) && i > 0 && char.IsHighSurrogate(s[i - 1]))
            {
                i--;
            }

            return TextPattern.IsWordChar(System.Text.Rune.GetRuneAt(s, i));
        }

        private static bool StartsWithWord(string s, int start) => TextPattern.IsWordChar(System.Text.Rune.GetRuneAt(s, start));
    }
}
