namespace DebertaSharp.Tokenization;

/// <summary>
/// Byte-level BPE for very long pre-tokens in O(n log n): a linked list of symbols and a heap of candidate pairs
/// ordered by (merge rank, position). Microsoft.ML.Tokenizers' <see cref="Microsoft.ML.Tokenizers.BpeTokenizer"/> gives the
/// same pieces but slows down super-linearly on words of many kilobytes (a 1 MB word took a minute).
/// </summary>
/// <remarks>
/// The heap order reproduces GPT-2's "merge every occurrence of the lowest-ranked pair, left to right" because a
/// pair containing a freshly merged symbol was learned after that merge, so it always ranks higher.
/// </remarks>
internal sealed class ByteLevelBpeMerger
{
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    private readonly int[] _byteIds;

    private ByteLevelBpeMerger(Dictionary<(int, int), (int, int)> merges, int[] byteIds)
    {
        _merges = merges;
        _byteIds = byteIds;
    }

    /// <summary>Builds the merger, or returns <c>null</c> when some byte has no symbol in the vocabulary (then ML.Tokenizers handles every word).</summary>
    public static ByteLevelBpeMerger? Create(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<string> merges)
    {
        var byteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            if (!vocab.TryGetValue(ByteLevelAlphabet.Encode((byte)b).ToString(), out byteIds[b]))
            {
                return null;
            }
        }

        var table = new Dictionary<(int, int), (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            string[] parts = merges[rank].Split(' ');
            (int, int) key = (vocab[parts[0]], vocab[parts[1]]);
            table.TryAdd(key, (rank, vocab[parts[0] + parts[1]]));
        }

        return new ByteLevelBpeMerger(table, byteIds);
    }

    /// <summary>Appends (id, byte length) of the pieces of <paramref name="utf8"/>.</summary>
    public void Merge(ReadOnlySpan<byte> utf8, List<(int Id, int ByteLength)> output)
    {
        int n = utf8.Length;
        if (n == 0)
        {
            return;
        }

        var ids = new int[n];
        var lengths = new int[n];
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = _byteIds[utf8[i]];
            lengths[i] = 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }

        var heap = new PriorityQueue<int, (int Rank, int Position)>();
        void Consider(int left)
        {
            if (left >= 0 && next[left] >= 0 && _merges.TryGetValue((ids[left], ids[next[left]]), out (int Rank, int Merged) m))
            {
                heap.Enqueue(left, (m.Rank, left));
            }
        }

        for (int i = 0; i + 1 < n; i++)
        {
            Consider(i);
        }

        while (heap.TryDequeue(out int left, out (int Rank, int Position) priority))
        {
            // Entries go stale when a neighbour was merged; re-check that the pair still has this rank.
            if (lengths[left] == 0 || next[left] < 0 ||
                !_merges.TryGetValue((ids[left], ids[next[left]]), out (int Rank, int Merged) m) || m.Rank != priority.Rank)
            {
                continue;
            }

            int right = next[left];
            ids[left] = m.Merged;
            lengths[left] += lengths[right];
            lengths[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = left;
            }

            Consider(prev[left]);
            Consider(left);
        }

        for (int i = 0; i >= 0; i = next[i])
        {
            output.Add((ids[i], lengths[i]));
        }
    }
}
