using PieceType = DebertaSharp.Tokenization.SentencePieceModelProto.PieceType;

namespace DebertaSharp.Tokenization;

/// <summary>One piece of a segmentation: bytes [<see cref="Start"/>, <see cref="End"/>) of the normalized UTF-8 text and its id.</summary>
internal readonly record struct SentencePieceSegment(int Start, int End, int Id);

/// <summary>
/// sentencepiece's model encoders (0.1.9x, the version HF's slow tokenizers run on): the unigram Viterbi of
/// <c>unigram::Model::EncodeOptimized</c>, the BPE merge loop of <c>bpe::Model::Encode</c> and the word and char
/// models, over normalized UTF-8, with the same float arithmetic and tie-breaking. Unknown-run merging and byte fallback happen afterwards
/// (sentencepiece's <c>PopulateSentencePieceText</c>), in the tokenizer.
/// </summary>
/// <remarks>Immutable and thread-safe; scratch memory is rented per call.</remarks>
internal sealed class SentencePieceEncoder
{
    private const float UnkPenalty = 10.0f;

    private readonly SentencePieceTrie _trie;          // every piece → id
    private readonly SentencePieceTrie? _userDefined;  // user-defined pieces (sentencepiece's PrefixMatcher)
    private readonly float[] _scores;
    private readonly double[] _candidateScores; // per id, as the unigram search adds it; NaN: not a candidate
    private readonly PieceType[] _types;
    private readonly int[] _byteIds;
    private readonly int _modelType;
    private readonly float _maxScore;
    private readonly float _unkScore;

    private SentencePieceEncoder(SentencePieceModelProto model, SentencePieceTrie trie, SentencePieceTrie? userDefined, int unkId, int[] byteIds)
    {
        _trie = trie;
        _userDefined = userDefined;
        UnkId = unkId;
        _byteIds = byteIds;
        _modelType = model.ModelType;
        ByteFallback = model.ByteFallback;
        int n = model.Pieces.Count;
        _scores = new float[n];
        _candidateScores = new double[n];
        _types = new PieceType[n];

        // sentencepiece starts from FLT_MAX / FLT_MIN (the smallest positive float) and looks at normal pieces only.
        float min = float.MaxValue, max = 1.17549435E-38f;
        for (int i = 0; i < n; i++)
        {
            (_, float score, PieceType type) = model.Pieces[i];
            _scores[i] = score;
            _types[i] = type;
            if (type == PieceType.Normal)
            {
                min = Math.Min(min, score);
                max = Math.Max(max, score);
            }
        }

        _maxScore = max;
        _unkScore = min - UnkPenalty;

        // In C++ the candidate's `score` is `cond ? length * max_score_ - 0.1 : GetScore(id)`, a double for both branches
        // (length: the piece's UTF-8 bytes, as a float times the float max_score_). Unused, control, unknown and byte
        // pieces are not candidates (they are not in sentencepiece's trie, or skipped there).
        for (int i = 0; i < n; i++)
        {
            (string piece, float score, PieceType type) = model.Pieces[i];
            _candidateScores[i] = type switch
            {
                PieceType.Normal => score,
                PieceType.UserDefined => (double)((float)System.Text.Encoding.UTF8.GetByteCount(piece) * _maxScore) - 0.1,
                _ => double.NaN,
            };
        }
    }

    /// <summary>Id of the unknown piece.</summary>
    public int UnkId { get; }

    /// <summary>Whether unknown pieces decompose into byte pieces (<c>byte_fallback</c>).</summary>
    public bool ByteFallback { get; }

    /// <summary>The id of the byte piece <c>&lt;0xXX&gt;</c> of a byte (only with <see cref="ByteFallback"/>).</summary>
    public int ByteId(byte b) => _byteIds[b];

    /// <summary>The type of a piece.</summary>
    public PieceType TypeOf(int id) => _types[id];

    /// <summary>The user-defined pieces as a prefix matcher for the normalizer, or <c>null</c> if there are none.</summary>
    public SentencePieceTrie? UserDefined => _userDefined;

    /// <summary>Builds the encoder of a model that <see cref="SentencePieceModelValidator"/> has accepted.</summary>
    public static SentencePieceEncoder Create(SentencePieceModelProto model)
    {
        var keys = new List<byte[]>(model.Pieces.Count);
        var values = new List<int>(model.Pieces.Count);
        var userKeys = new List<byte[]>();
        var userValues = new List<int>();
        int unkId = -1;
        int[] byteIds = new int[256];
        for (int i = 0; i < model.Pieces.Count; i++)
        {
            (string piece, _, PieceType type) = model.Pieces[i];
            byte[] key = System.Text.Encoding.UTF8.GetBytes(piece);
            keys.Add(key);
            values.Add(i);
            if (type == PieceType.UserDefined)
            {
                userKeys.Add(key);
                userValues.Add(i);
            }
            else if (type == PieceType.Unknown)
            {
                unkId = i;
            }
            else if (type == PieceType.Byte)
            {
                byteIds[SentencePieceModelValidator.ByteOfPiece(piece)] = i;
            }
        }

        return new SentencePieceEncoder(
            model, SentencePieceTrie.Build(keys, values), userKeys.Count == 0 ? null : SentencePieceTrie.Build(userKeys, userValues), unkId, byteIds);
    }

    /// <summary>Length in bytes of the UTF-8 character starting with <paramref name="lead"/> (sentencepiece's <c>OneCharLen</c>).</summary>
    public static int OneCharLength(byte lead) => (lead >> 4) switch
    {
        < 12 => 1,
        12 or 13 => 2,
        14 => 3,
        _ => 4,
    };

    /// <summary>sentencepiece's <c>PrefixMatcher::PrefixMatch</c>: the longest user-defined piece at the start, else one character.</summary>
    public static int PrefixMatch(SentencePieceTrie? matcher, ReadOnlySpan<byte> text, out bool found)
    {
        found = false;
        int longest = 0;
        if (matcher is not null)
        {
            int node = SentencePieceTrie.Root;
            for (int i = 0; i < text.Length; i++)
            {
                node = matcher.Step(node, text[i]);
                if (node < 0)
                {
                    break;
                }

                if (matcher.Value(node) >= 0)
                {
                    longest = i + 1;
                }
            }
        }

        if (longest > 0)
        {
            found = true;
            return longest;
        }

        return Math.Min(text.Length, OneCharLength(text[0]));
    }

    /// <summary>Segments normalized UTF-8 text, appending pieces in order (unknown characters get <see cref="UnkId"/>, one piece each).</summary>
    public void Encode(ReadOnlySpan<byte> normalized, List<SentencePieceSegment> output)
    {
        if (normalized.IsEmpty)
        {
            return;
        }

        switch (_modelType)
        {
            case 2:
                EncodeBpe(normalized, output);
                break;
            case 3:
                EncodeWords(normalized, output);
                break;
            case 4:
                EncodeCharacters(normalized, output);
                break;
            default:
                EncodeUnigram(normalized, output);
                break;
        }
    }

    /// <summary><c>unigram::Model::EncodeOptimized</c>: best path ending at every byte position, candidates in trie order, strict '&gt;' keeps the first.</summary>
    private void EncodeUnigram(ReadOnlySpan<byte> text, List<SentencePieceSegment> output)
    {
        int size = text.Length;
        Lattice lattice = t_lattice ??= new Lattice();
        lattice.Ensure(size + 1);
        Span<int> startsAt = lattice.StartsAt.AsSpan(0, size + 1);
        Span<int> ids = lattice.Ids.AsSpan(0, size + 1);
        Span<float> best = lattice.Best.AsSpan(0, size + 1);
        startsAt.Fill(-1);
        best[0] = 0;
        double[] candidates = _candidateScores;
        SentencePieceTrie trie = _trie;

        for (int start = 0; start < size;)
        {
            float tillHere = best[start];
            bool hasSingleNode = false;
            int charLength = Math.Min(OneCharLength(text[start]), size - start);
            int node = SentencePieceTrie.Root;
            for (int pos = start; pos < size;)
            {
                node = trie.Step(node, text[pos]);
                if (node < 0)
                {
                    break;
                }

                pos++;
                int id = trie.Value(node);
                if (id < 0)
                {
                    continue;
                }

                double score = candidates[id];
                if (double.IsNaN(score))
                {
                    continue;
                }

                // double + float compared in double, stored as float: C++'s arithmetic (see _candidateScores).
                double candidate = score + tillHere;
                if (startsAt[pos] == -1 || candidate > best[pos])
                {
                    best[pos] = (float)candidate;
                    startsAt[pos] = start;
                    ids[pos] = id;
                }

                if (pos - start == charLength)
                {
                    hasSingleNode = true;
                }
            }

            if (!hasSingleNode)
            {
                int end = start + charLength;
                float candidate = _unkScore + tillHere; // float + float here
                if (startsAt[end] == -1 || candidate > best[end])
                {
                    best[end] = candidate;
                    startsAt[end] = start;
                    ids[end] = UnkId;
                }
            }

            start += charLength;
        }

        int first = output.Count;
        for (int end = size; end > 0; end = startsAt[end])
        {
            output.Add(new SentencePieceSegment(startsAt[end], end, ids[end]));
        }

        output.Reverse(first, output.Count - first);
    }

    [ThreadStatic]
    private static Lattice? t_lattice;

    /// <summary>Per-thread best-path arrays of the unigram search, grown as needed.</summary>
    private sealed class Lattice
    {
        public int[] StartsAt { get; private set; } = new int[256];

        public int[] Ids { get; private set; } = new int[256];

        public float[] Best { get; private set; } = new float[256];

        public void Ensure(int length)
        {
            if (StartsAt.Length < length)
            {
                int size = Math.Max(length, StartsAt.Length * 2);
                StartsAt = new int[size];
                Ids = new int[size];
                Best = new float[size];
            }
        }
    }

    /// <summary>Id of a piece as sentencepiece's <c>PieceToId</c> gives it: any piece, else the unknown id.</summary>
    private int PieceToId(ReadOnlySpan<byte> piece)
    {
        int id = _trie.Find(piece);
        return id < 0 ? UnkId : id;
    }

    /// <summary>An id usable as a BPE merge (sentencepiece's <c>pieces_</c>: normal, user-defined and unused pieces), or -1.</summary>
    private int MergeableId(ReadOnlySpan<byte> piece)
    {
        int id = _trie.Find(piece);
        return id >= 0 && _types[id] is PieceType.Normal or PieceType.UserDefined or PieceType.Unused ? id : -1;
    }

    /// <summary>
    /// <c>bpe::Model::Encode</c>: start from characters (user-defined pieces frozen whole), repeatedly merge the
    /// adjacent pair whose merged piece scores highest (ties: leftmost), then split unused pieces back into the pair
    /// they were merged from.
    /// </summary>
    private void EncodeBpe(ReadOnlySpan<byte> text, List<SentencePieceSegment> output)
    {
        var symbols = new List<(int Start, int Length, int Prev, int Next, bool Freeze)>();
        for (int pos = 0; pos < text.Length;)
        {
            int length = PrefixMatch(_userDefined, text[pos..], out bool freeze);
            int index = symbols.Count;
            symbols.Add((pos, length, index - 1, pos + length < text.Length ? index + 1 : -1, freeze));
            pos += length;
        }

        // Max-heap on (score, then smaller left); stale entries are skipped when popped, as in sentencepiece.
        var agenda = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(AgendaOrder.Instance);
        var reverseMerge = new Dictionary<int, (int LeftStart, int LeftLength, int RightLength)>();
        ReadOnlySpan<byte> all = text;

        void MaybeAdd(int left, int right, ReadOnlySpan<byte> source)
        {
            if (left == -1 || right == -1 || symbols[left].Freeze || symbols[right].Freeze)
            {
                return;
            }

            int size = symbols[left].Length + symbols[right].Length;
            int id = MergeableId(source.Slice(symbols[left].Start, size));
            if (id < 0)
            {
                return;
            }

            agenda.Enqueue((left, right, size), (_scores[id], left));
            if (_types[id] == PieceType.Unused)
            {
                reverseMerge[id] = (symbols[left].Start, symbols[left].Length, symbols[right].Length);
            }
        }

        for (int i = 1; i < symbols.Count; i++)
        {
            MaybeAdd(i - 1, i, all);
        }

        while (agenda.TryDequeue(out (int Left, int Right, int Size) top, out _))
        {
            var left = symbols[top.Left];
            var right = symbols[top.Right];
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != top.Size)
            {
                continue;
            }

            symbols[top.Left] = left with { Length = top.Size, Next = right.Next };
            if (right.Next >= 0)
            {
                symbols[right.Next] = symbols[right.Next] with { Prev = top.Left };
            }

            symbols[top.Right] = right with { Length = 0 };
            MaybeAdd(symbols[top.Left].Prev, top.Left, all);
            MaybeAdd(top.Left, symbols[top.Left].Next, all);
        }

        void Resegment(int start, int length, ReadOnlySpan<byte> source)
        {
            int id = PieceToId(source.Slice(start, length));
            if (_types[id] == PieceType.Unused && reverseMerge.TryGetValue(id, out var split))
            {
                // rev_merge is keyed by the piece's text; the pair is any occurrence of it, so re-anchor at this one.
                Resegment(start, split.LeftLength, source);
                Resegment(start + split.LeftLength, split.RightLength, source);
                return;
            }

            output.Add(new SentencePieceSegment(start, start + length, id));
        }

        for (int index = 0; index != -1; index = symbols[index].Next)
        {
            Resegment(symbols[index].Start, symbols[index].Length, all);
        }
    }

    /// <summary><c>word::Model::Encode</c>: a piece starts at the beginning and at every '▁' (<c>SplitIntoWords</c>); each is looked up whole.</summary>
    private void EncodeWords(ReadOnlySpan<byte> text, List<SentencePieceSegment> output)
    {
        int wordStart = 0;
        for (int pos = 0; pos < text.Length;)
        {
            int length = Math.Min(OneCharLength(text[pos]), text.Length - pos);
            bool space = length == 3 && text[pos] == 0xE2 && text[pos + 1] == 0x96 && text[pos + 2] == 0x81;
            if (space && pos > 0)
            {
                output.Add(new SentencePieceSegment(wordStart, pos, PieceToId(text[wordStart..pos])));
                wordStart = pos;
            }

            pos += length;
        }

        output.Add(new SentencePieceSegment(wordStart, text.Length, PieceToId(text[wordStart..])));
    }

    /// <summary><c>char::Model::Encode</c>: one character (or a whole user-defined piece) per piece, looked up.</summary>
    private void EncodeCharacters(ReadOnlySpan<byte> text, List<SentencePieceSegment> output)
    {
        for (int pos = 0; pos < text.Length;)
        {
            int length = PrefixMatch(_userDefined, text[pos..], out _);
            output.Add(new SentencePieceSegment(pos, pos + length, PieceToId(text.Slice(pos, length))));
            pos += length;
        }
    }

    private sealed class AgendaOrder : IComparer<(float Score, int Left)>
    {
        public static readonly AgendaOrder Instance = new();

        // PriorityQueue dequeues the smallest: higher score first, then the smaller left index.
        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            if (x.Score != y.Score)
            {
                return x.Score > y.Score ? -1 : 1;
            }

            return x.Left.CompareTo(y.Left);
        }
    }
}
