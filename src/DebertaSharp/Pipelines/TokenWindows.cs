using DebertaSharp.Tokenization;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Cuts a tokenized text into overlapping windows that each fit the model, and builds the model input of a window
/// (<c>[CLS] window [SEP]</c>, or <c>[CLS] first [SEP] window [SEP]</c> for a pair whose second text is windowed).
/// The tokenizer has no overflow/stride, so the pipelines tokenize once and window here.
/// </summary>
internal static class TokenWindows
{
    /// <summary>
    /// Windows of at most <paramref name="size"/> tokens over <paramref name="total"/> tokens, consecutive windows
    /// sharing <paramref name="stride"/> tokens (HF's <c>stride</c>); the last window ends at the last token.
    /// </summary>
    public static List<(int Start, int Count)> Spans(int total, int size, int stride)
    {
        if (size < 1 || stride < 0 || stride >= size)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), $"window {size}, stride {stride}: need 0 ≤ stride < window.");
        }

        var spans = new List<(int, int)>();
        for (int start = 0; ; start += size - stride)
        {
            int count = Math.Min(size, total - start);
            spans.Add((start, count));
            if (start + count >= total)
            {
                return spans;
            }
        }
    }

    /// <summary>The window <c>[CLS] pieces[start..start+count) [SEP]</c> of a text encoded without special tokens.</summary>
    public static TokenEncoding Single(DebertaTokenizerBase tokenizer, TokenEncoding pieces, int start, int count)
    {
        var b = new Builder(count + 2);
        b.Template(tokenizer.Cls, 0);
        b.Slice(pieces, start, count, type: 0, sequence: 0);
        b.Template(tokenizer.Sep, 0);
        return b.Build();
    }

    /// <summary>The window <c>[CLS] first [SEP] second[start..start+count) [SEP]</c>; both encoded without special tokens.</summary>
    public static TokenEncoding Pair(DebertaTokenizerBase tokenizer, TokenEncoding first, TokenEncoding second, int start, int count)
    {
        var b = new Builder(first.Length + count + 3);
        b.Template(tokenizer.Cls, 0);
        b.Slice(first, 0, first.Length, type: 0, sequence: 0);
        b.Template(tokenizer.Sep, 0);
        b.Slice(second, start, count, type: 1, sequence: 1);
        b.Template(tokenizer.Sep, 1);
        return b.Build();
    }

    private sealed class Builder(int length)
    {
        private readonly int[] _ids = new int[length];
        private readonly int[] _types = new int[length];
        private readonly int[] _special = new int[length];
        private readonly TokenOffset[] _offsets = new TokenOffset[length];
        private readonly string[] _tokens = new string[length];
        private readonly int?[] _sequence = new int?[length];
        private int _k;

        public void Template(AddedToken token, int type)
        {
            _ids[_k] = token.Id;
            _types[_k] = type;
            _special[_k] = 1;
            _tokens[_k] = token.Content;
            _k++;
        }

        public void Slice(TokenEncoding source, int start, int count, int type, int sequence)
        {
            for (int i = start; i < start + count; i++)
            {
                _ids[_k] = source.InputIds[i];
                _types[_k] = type;
                _special[_k] = source.SpecialTokensMask[i];
                _offsets[_k] = source.Offsets[i];
                _tokens[_k] = source.Tokens[i];
                _sequence[_k] = sequence;
                _k++;
            }
        }

        public TokenEncoding Build() => new()
        {
            InputIds = _ids,
            TokenTypeIds = _types,
            AttentionMask = Enumerable.Repeat(1, _ids.Length).ToArray(),
            SpecialTokensMask = _special,
            Offsets = _offsets,
            Tokens = _tokens,
            SequenceIds = _sequence,
        };
    }
}
