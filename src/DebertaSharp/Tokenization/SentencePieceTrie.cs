namespace DebertaSharp.Tokenization;

/// <summary>
/// An immutable byte trie over UTF-8 keys for the encoder's prefix walk: one byte a step, no allocation.
/// All nodes live in one int array, each as <c>[value, count, children…]</c> so that a step touches one or two
/// cache lines: up to <see cref="DenseThreshold"/> children as sorted (label, node) pairs, more as a 256-entry table.
/// </summary>
/// <remarks>
/// Walking byte by byte reports the keys that are prefixes of the input in increasing length, the order in which
/// sentencepiece's darts-clone <c>traverse</c> reports them; that order decides ties in the Viterbi search.
/// </remarks>
internal sealed class SentencePieceTrie
{
    private const int DenseThreshold = 32;

    // Node at offset o: _data[o] = value (-1 none); _data[o + 1] = child count c, or -1 for a dense node;
    // sparse: (label, child offset) pairs at o + 2 … o + 1 + 2c, labels ascending; dense: child offset per label at o + 2 + label (-1 none).
    private readonly int[] _data;

    private SentencePieceTrie(int[] data) => _data = data;

    /// <summary>The root node.</summary>
    public const int Root = 0;

    /// <summary>Builds the trie; keys must be distinct and non-empty.</summary>
    /// <param name="keys">UTF-8 keys.</param>
    /// <param name="values">The value of each key (≥ 0).</param>
    public static SentencePieceTrie Build(IReadOnlyList<byte[]> keys, IReadOnlyList<int> values)
    {
        int[] order = Enumerable.Range(0, keys.Count).ToArray();
        Array.Sort(order, (a, b) => keys[a].AsSpan().SequenceCompareTo(keys[b]));

        var data = new List<int>();
        var children = new List<(byte Label, int Lo, int Hi)>();

        // Breadth-first over (node offset, depth, sorted key range); a node's record is complete when it is laid out,
        // with child slots patched once the children get their offsets.
        var queue = new Queue<(int Offset, int Depth, int Lo, int Hi)>();
        queue.Enqueue((Allocate(data, order, keys, values, 0, 0, order.Length, children), 0, 0, order.Length));
        while (queue.Count > 0)
        {
            (int offset, int depth, int lo, int hi) = queue.Dequeue();
            Children(order, keys, depth, lo, hi, children);
            bool dense = data[offset + 1] < 0;
            var pending = children.ToArray();
            for (int k = 0; k < pending.Length; k++)
            {
                (byte label, int cLo, int cHi) = pending[k];
                int child = Allocate(data, order, keys, values, depth + 1, cLo, cHi, children);
                if (dense)
                {
                    data[offset + 2 + label] = child;
                }
                else
                {
                    data[offset + 2 + (2 * k)] = label;
                    data[offset + 3 + (2 * k)] = child;
                }

                queue.Enqueue((child, depth + 1, cLo, cHi));
            }
        }

        return new SentencePieceTrie(data.ToArray());
    }

    /// <summary>Appends the record of the node for keys [lo, hi) at <paramref name="depth"/>; returns its offset.</summary>
    private static int Allocate(List<int> data, int[] order, IReadOnlyList<byte[]> keys, IReadOnlyList<int> values, int depth, int lo, int hi,
        List<(byte Label, int Lo, int Hi)> scratch)
    {
        int offset = data.Count;
        data.Add(lo < hi && keys[order[lo]].Length == depth ? values[order[lo]] : -1);
        Children(order, keys, depth, lo, hi, scratch);
        int count = scratch.Count;
        bool dense = count > DenseThreshold;
        data.Add(dense ? -1 : count);
        int slots = dense ? 256 : 2 * count;
        for (int i = 0; i < slots; i++)
        {
            data.Add(-1);
        }

        return offset;
    }

    private static void Children(int[] order, IReadOnlyList<byte[]> keys, int depth, int lo, int hi, List<(byte Label, int Lo, int Hi)> children)
    {
        children.Clear();
        int i = lo;
        if (i < hi && keys[order[i]].Length == depth)
        {
            i++;
        }

        while (i < hi)
        {
            byte label = keys[order[i]][depth];
            int j = i + 1;
            while (j < hi && keys[order[j]][depth] == label)
            {
                j++;
            }

            children.Add((label, i, j));
            i = j;
        }
    }

    /// <summary>The child of <paramref name="node"/> along <paramref name="label"/>, or -1.</summary>
    public int Step(int node, byte label)
    {
        int[] data = _data;
        int count = data[node + 1];
        if (count < 0)
        {
            return data[node + 2 + label];
        }

        for (int k = node + 2, end = node + 2 + (2 * count); k < end; k += 2)
        {
            int l = data[k];
            if (l == label)
            {
                return data[k + 1];
            }

            if (l > label)
            {
                break;
            }
        }

        return -1;
    }

    /// <summary>Whether some key is longer than the path to <paramref name="node"/>.</summary>
    public bool HasChildren(int node) => _data[node + 1] != 0;

    /// <summary>The value of the key ending at <paramref name="node"/>, or -1.</summary>
    public int Value(int node) => _data[node];

    /// <summary>The value of an exact key, or -1.</summary>
    public int Find(ReadOnlySpan<byte> key)
    {
        int node = Root;
        foreach (byte b in key)
        {
            node = Step(node, b);
            if (node < 0)
            {
                return -1;
            }
        }

        return _data[node];
    }
}
