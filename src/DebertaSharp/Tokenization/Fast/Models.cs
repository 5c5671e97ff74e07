using System.Globalization;
using System.Text;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>A token a model produced: id, string and its range in the piece's normalized text.</summary>
internal readonly record struct ModelToken(int Id, string Value, int Start, int End);

/// <summary>A <c>tokenizer.json</c> model: turns one pre-tokenized word into tokens.</summary>
internal interface ITokenizerModel
{
    /// <summary>Number of entries in the model vocabulary.</summary>
    int VocabularySize { get; }

    int? TokenToId(string token);

    string? IdToToken(int id);

    void Tokenize(string word, List<ModelToken> output);
}

/// <summary>Reads the <c>model</c> block.</summary>
internal static class Models
{
    public static ITokenizerModel Read(JsonNode node)
    {
        // Old files leave "type" out of the model; HF then guesses from the fields.
        string type = node.String("type") ?? (node.Has("merges") ? "BPE" : node.Has("vocab") && node.Required("vocab").Element.ValueKind == System.Text.Json.JsonValueKind.Array ? "Unigram" : "");
        return type switch
        {
            "Unigram" => UnigramModel.Read(node),
            "BPE" => BpeModel.Read(node),
            _ => throw node.Error($"model type '{type}' is not supported (supported: Unigram, BPE)."),
        };
    }

    /// <summary>The byte-fallback piece of a byte, <c>&lt;0xAB&gt;</c>.</summary>
    public static string BytePiece(byte b) => "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";
}

/// <summary>
/// HF's Unigram model: its Viterbi (<c>encode_optimized</c>) over the vocabulary pieces, prefixes visited shortest first,
/// a candidate replacing the best path only when strictly better, unknown characters scored min_score − 10, runs of
/// unknowns fused into one piece, optional byte fallback for unknown pieces.
/// </summary>
internal sealed class UnigramModel : ITokenizerModel
{
    private const double UnknownPenalty = 10.0;

    private readonly (string Piece, double Score)[] _vocab;
    private readonly Dictionary<string, int> _ids;
    // The pieces as a trie over UTF-16 units: (node << 16 | unit) → child node; _terminal[node] = piece id or -1.
    private readonly Dictionary<long, int> _children = [];
    private readonly List<int> _terminal = [-1];
    private readonly int? _unkId;
    private readonly bool _byteFallback;
    private readonly double _unkScore;

    private UnigramModel((string, double)[] vocab, int? unkId, bool byteFallback)
    {
        _vocab = vocab;
        _ids = new Dictionary<string, int>(vocab.Length, StringComparer.Ordinal);
        double min = double.PositiveInfinity;
        for (int i = 0; i < vocab.Length; i++)
        {
            _ids[vocab[i].Item1] = i;
            min = Math.Min(min, vocab[i].Item2);
        }

        foreach ((string piece, int id) in _ids)
        {
            int node = 0;
            foreach (char c in piece)
            {
                long key = ((long)node << 16) | c;
                if (!_children.TryGetValue(key, out int child))
                {
                    child = _terminal.Count;
                    _terminal.Add(-1);
                    _children[key] = child;
                }

                node = child;
            }

            _terminal[node] = id;
        }
        _unkId = unkId;
        _byteFallback = byteFallback;
        _unkScore = min - UnknownPenalty;
    }

    public int VocabularySize => _vocab.Length;

    public static UnigramModel Read(JsonNode node)
    {
        var vocab = new List<(string, double)>();
        foreach (JsonNode entry in node.Required("vocab").Items())
        {
            JsonNode[] pair = [.. entry.Items()];
            if (pair.Length != 2)
            {
                throw entry.Error("a Unigram vocabulary entry must be [piece, score].");
            }

            vocab.Add((pair[0].AsString(), pair[1].AsDouble()));
        }

        int? unkId = node.Int("unk_id");
        if (unkId is int u && u >= vocab.Count)
        {
            throw node.Error($"unk_id {u} is outside the vocabulary of {vocab.Count} pieces.");
        }

        if (vocab.Count == 0)
        {
            throw node.Error("the Unigram vocabulary is empty.");
        }

        return new UnigramModel([.. vocab], unkId, node.Bool("byte_fallback", false));
    }

    public int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _vocab.Length ? _vocab[id].Piece : null;

    public void Tokenize(string word, List<ModelToken> output)
    {
        if (word.Length == 0)
        {
            return;
        }

        int size = word.Length;
        var score = new double[size + 1];
        var from = new int[size + 1];
        var ids = new int[size + 1];
        Array.Fill(from, -1);
        for (int start = 0; start < size;)
        {
            double here = score[start];
            int charLength = NormalizedText.RuneLength(word, start);
            bool hasSingle = false;
            // Prefixes shortest first, as the Rust library's trie search yields them.
            int node = 0;
            for (int end = start + 1; end <= size; end++)
            {
                if (!_children.TryGetValue(((long)node << 16) | word[end - 1], out node))
                {
                    break;
                }

                int id = _terminal[node];
                if (id < 0 || (end < size && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1])))
                {
                    continue;
                }

                int length = end - start;

                double candidate = _vocab[id].Score + here;
                if (from[end] < 0 || candidate > score[end])
                {
                    score[end] = candidate;
                    from[end] = start;
                    ids[end] = id;
                }

                hasSingle |= length == charLength;
            }

            if (!hasSingle)
            {
                int end = start + charLength;
                double candidate = _unkScore + here;
                if (from[end] < 0 || candidate > score[end])
                {
                    score[end] = candidate;
                    from[end] = start;
                    ids[end] = _unkId ?? throw new TokenizerException(
                        $"The Unigram model has no unk_id but '{word.Substring(start, charLength)}' is not in its vocabulary.");
                }
            }

            start += charLength;
        }

        // Back-track, fusing runs of unknown pieces.
        var spans = new List<(int Start, int End)>();
        for (int end = size; end > 0;)
        {
            int start = from[end];
            int unk = _unkId ?? -1;
            if (unk >= 0 && ids[end] == unk && spans.Count > 0 && IsUnknownSpan(spans[^1], ids, unk))
            {
                spans[^1] = (start, spans[^1].End);
            }
            else
            {
                spans.Add((start, end));
            }

            end = start;
        }

        spans.Reverse();
        foreach ((int start, int end) in spans)
        {
            string value = word[start..end];
            if (_ids.TryGetValue(value, out int id))
            {
                output.Add(new ModelToken(id, value, start, end));
                continue;
            }

            if (_byteFallback && TryBytes(value, start, end, output))
            {
                continue;
            }

            output.Add(new ModelToken(_unkId!.Value, value, start, end));
        }
    }

    private static bool IsUnknownSpan((int Start, int End) span, int[] ids, int unk) => ids[span.End] == unk;

    private bool TryBytes(string value, int start, int end, List<ModelToken> output)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        var tokens = new List<ModelToken>(bytes.Length);
        foreach (byte b in bytes)
        {
            string piece = Models.BytePiece(b);
            if (!_ids.TryGetValue(piece, out int id))
            {
                return false;
            }

            tokens.Add(new ModelToken(id, piece, start, end));
        }

        output.AddRange(tokens);
        return true;
    }
}

/// <summary>
/// HF's BPE model: the characters of a word (with <c>continuing_subword_prefix</c> / <c>end_of_word_suffix</c>), unknown
/// ones as byte-fallback pieces or the unk token (runs fused with <c>fuse_unk</c>), then the merges applied lowest rank
/// first, ties to the leftmost pair. <c>ignore_merges</c> takes a word found whole in the vocabulary as it is.
/// </summary>
internal sealed class BpeModel : ITokenizerModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _reverse;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly string? _unkToken;
    private readonly string? _prefix;
    private readonly string? _suffix;
    private readonly bool _fuseUnk;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;

    private BpeModel(
        Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, string? unkToken, string? prefix, string? suffix,
        bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _reverse = [];
        foreach (KeyValuePair<string, int> kv in vocab)
        {
            _reverse.TryAdd(kv.Value, kv.Key);
        }

        _merges = merges;
        _unkToken = unkToken;
        _prefix = prefix;
        _suffix = suffix;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
    }

    public int VocabularySize => _vocab.Count;

    public static BpeModel Read(JsonNode node)
    {
        if (node.Child("dropout") is JsonNode dropout && dropout.AsDouble() != 0)
        {
            throw dropout.Error("BPE dropout is random; only null (no dropout) is supported.");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        JsonNode vocabNode = node.Required("vocab");
        if (vocabNode.Element.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            throw vocabNode.Error("the BPE vocabulary must be an object mapping token to id.");
        }

        foreach (System.Text.Json.JsonProperty p in vocabNode.Element.EnumerateObject())
        {
            vocab[p.Name] = new JsonNode(p.Value, $"{vocabNode.Path}[\"{p.Name}\"]", vocabNode.File).AsIndex();
        }

        string? prefix = node.String("continuing_subword_prefix");
        int prefixLength = prefix?.Length ?? 0;
        var merges = new Dictionary<long, (int, int)>();
        int rank = 0;
        foreach (JsonNode m in node.Child("merges")?.Items() ?? [])
        {
            string a, b;
            if (m.Element.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                string[] parts = m.AsString().Split(' ');
                if (parts.Length != 2)
                {
                    throw m.Error($"merge '{m.AsString()}' is not two tokens separated by one space.");
                }

                (a, b) = (parts[0], parts[1]);
            }
            else
            {
                JsonNode[] parts = [.. m.Items()];
                if (parts.Length != 2)
                {
                    throw m.Error("a merge must be \"a b\" or [a, b].");
                }

                (a, b) = (parts[0].AsString(), parts[1].AsString());
            }

            if (b.Length < prefixLength)
            {
                throw m.Error($"merge '{a} {b}': '{b}' is shorter than continuing_subword_prefix '{prefix}'.");
            }

            string merged = a + b[prefixLength..];
            int ia = vocab.TryGetValue(a, out int x) ? x : throw m.Error($"merge token '{a}' is not in the vocabulary.");
            int ib = vocab.TryGetValue(b, out int y) ? y : throw m.Error($"merge token '{b}' is not in the vocabulary.");
            int im = vocab.TryGetValue(merged, out int z) ? z : throw m.Error($"merged token '{merged}' is not in the vocabulary.");
            merges.TryAdd(Key(ia, ib), (rank, im));
            rank++;
        }

        string? suffix = node.String("end_of_word_suffix");
        bool byteFallback = node.Bool("byte_fallback", false);
        if (byteFallback && (!string.IsNullOrEmpty(prefix) || !string.IsNullOrEmpty(suffix)))
        {
            // The Rust library byte-encodes the prefix/suffix too and gives those bytes offsets past the word.
            throw node.Error("byte_fallback together with a non-empty continuing_subword_prefix or end_of_word_suffix is not supported.");
        }

        return new BpeModel(
            vocab, merges, node.String("unk_token"), prefix, suffix,
            node.Bool("fuse_unk", false), byteFallback, node.Bool("ignore_merges", false));
    }

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => _reverse.TryGetValue(id, out string? token) ? token : null;

    public void Tokenize(string word, List<ModelToken> output)
    {
        if (word.Length == 0)
        {
            return;
        }

        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            output.Add(new ModelToken(whole, word, 0, word.Length));
            return;
        }

        var symbols = new List<Symbol>(word.Length);
        Symbol? unk = null;
        for (int i = 0; i < word.Length;)
        {
            int length = NormalizedText.RuneLength(word, i);
            int end = i + length;
            string s = word.Substring(i, length);
            if (i > 0 && _prefix is not null)
            {
                s = _prefix + s;
            }

            if (end == word.Length && _suffix is not null)
            {
                s += _suffix;
            }

            if (_vocab.TryGetValue(s, out int id))
            {
                if (unk is Symbol u)
                {
                    symbols.Add(u);
                    unk = null;
                }

                symbols.Add(new Symbol(id, i, end));
            }
            else if (_byteFallback && ByteIds(s) is int[] bytes)
            {
                // The Rust library flushes no pending unknown here, so neither do we.
                foreach (int b in bytes)
                {
                    symbols.Add(new Symbol(b, i, end));
                }
            }
            else if (_unkToken is not null)
            {
                int unkId = _vocab.TryGetValue(_unkToken, out int k)
                    ? k
                    : throw new TokenizerException($"BPE unk_token '{_unkToken}' is not in the vocabulary.");
                if (unk is Symbol pending)
                {
                    if (_fuseUnk)
                    {
                        unk = pending with { End = end };
                    }
                    else
                    {
                        symbols.Add(pending);
                        unk = new Symbol(unkId, i, end);
                    }
                }
                else
                {
                    unk = new Symbol(unkId, i, end);
                }
            }

            i = end;
        }

        if (unk is Symbol last)
        {
            symbols.Add(last);
        }

        MergeAll(symbols);
        foreach (Symbol s in symbols)
        {
            if (s.Id >= 0)
            {
                output.Add(new ModelToken(s.Id, _reverse[s.Id], s.Start, s.End));
            }
        }
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    private int[]? ByteIds(string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        var ids = new int[bytes.Length];
        for (int j = 0; j < bytes.Length; j++)
        {
            if (!_vocab.TryGetValue(Models.BytePiece(bytes[j]), out ids[j]))
            {
                return null;
            }
        }

        return ids;
    }

    /// <summary>Word::merge_all: a priority queue of (rank, position); merged-away symbols get id −1.</summary>
    private void MergeAll(List<Symbol> symbols)
    {
        int n = symbols.Count;
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        var queue = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(symbols[i].Id, symbols[i + 1].Id), out var m))
            {
                queue.Enqueue((i, m.NewId), (m.Rank, i));
            }
        }

        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (symbols[pos].Id < 0 || next[pos] < 0)
            {
                continue;
            }

            int right = next[pos];
            if (!_merges.TryGetValue(Key(symbols[pos].Id, symbols[right].Id), out var current) || current.NewId != top.NewId)
            {
                continue;
            }

            symbols[pos] = new Symbol(top.NewId, symbols[pos].Start, symbols[right].End);
            symbols[right] = symbols[right] with { Id = -1 };
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(symbols[prev[pos]].Id, symbols[pos].Id), out var left))
            {
                queue.Enqueue((prev[pos], left.NewId), (left.Rank, prev[pos]));
            }

            if (next[pos] >= 0 && _merges.TryGetValue(Key(symbols[pos].Id, symbols[next[pos]].Id), out var after))
            {
                queue.Enqueue((pos, after.NewId), (after.Rank, pos));
            }
        }
    }

    private readonly record struct Symbol(int Id, int Start, int End);
}
