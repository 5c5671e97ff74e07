using DebertaSharp.Tokenization;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Words of a tokenized text, derived from offsets: a token continues the previous word when no whitespace comes
/// before it (HF's heuristic for tokenizers without word ids, applied to the span without the whitespace a '▁' piece
/// stands for). A bare '▁' (empty span) belongs to the word after it; <c>[UNK]</c> and the token after a special token
/// written in the text (<c>[MASK]</c>, <c>[SEP]</c> …, which belong to no word) begin words.
/// </summary>
internal sealed class TextWords
{
    private TextWords(int[] wordIds, int[] starts, int[] ends)
    {
        WordIds = wordIds;
        Starts = starts;
        Ends = ends;
    }

    /// <summary>Word number of each token; −1 for a special token written in the text.</summary>
    public int[] WordIds { get; }

    /// <summary>Start of each token's span in the text, leading whitespace left out.</summary>
    public int[] Starts { get; }

    /// <summary>End of each token's span in the text.</summary>
    public int[] Ends { get; }

    /// <summary>Segments <paramref name="pieces"/> (an encoding of <paramref name="text"/> without template tokens).</summary>
    public static TextWords Of(DebertaTokenizerBase tokenizer, string text, TokenEncoding pieces)
    {
        int n = pieces.Length;
        var wordIds = new int[n];
        var starts = new int[n];
        var ends = new int[n];
        int word = -1;
        bool wordOpen = false;      // the previous token is a bare '▁' whose word goes on
        bool afterSpecial = false;
        for (int t = 0; t < n; t++)
        {
            int id = pieces.InputIds[t];
            TokenOffset o = pieces.Offsets[t];
            int start = o.Start;
            while (start < o.End && char.IsWhiteSpace(text[start]))
            {
                start++;
            }

            starts[t] = start;
            ends[t] = o.End;
            if (pieces.SpecialTokensMask[t] == 1 && id != tokenizer.UnkTokenId)
            {
                wordIds[t] = -1;
                afterSpecial = true;
                wordOpen = false;
                continue;
            }

            bool afterWhitespace = start == 0 || char.IsWhiteSpace(text[start - 1]);
            bool continues = word >= 0 && (wordOpen || (!afterWhitespace && !afterSpecial && id != tokenizer.UnkTokenId));
            if (!continues)
            {
                word++;
            }

            wordIds[t] = word;
            wordOpen = start == o.End;
            afterSpecial = false;
        }

        return new TextWords(wordIds, starts, ends);
    }

    /// <summary>Whether token <paramref name="t"/> continues the word of the token before it.</summary>
    public bool IsSubword(int t) => t > 0 && WordIds[t] >= 0 && WordIds[t] == WordIds[t - 1];

    /// <summary>The character span of the whole word that token <paramref name="t"/> belongs to (the token's own span for a special token).</summary>
    public (int Start, int End) WordSpan(int t)
    {
        if (WordIds[t] < 0)
        {
            return (Starts[t], Ends[t]);
        }

        int first = t, last = t;
        while (first > 0 && WordIds[first - 1] == WordIds[t])
        {
            first--;
        }

        while (last + 1 < WordIds.Length && WordIds[last + 1] == WordIds[t])
        {
            last++;
        }

        // A bare '▁' at the front has an empty span that may sit before the word's whitespace: start at the first text.
        while (first < last && Starts[first] == Ends[first])
        {
            first++;
        }

        return (Starts[first], Ends[last]);
    }
}
