namespace DebertaSharp.Tokenization;

/// <summary>
/// An immutable byte trie over UTF-8 keys for the encoder's prefix walk: one byte a step, no allocation.
/// Nodes with many children (the root, the node after '▁') get a dense 256-entry table, the rest sorted edge lists.
/// </summary>
/// <remarks>
/// Walking byte by byte reports the keys that are prefixes of the input in increasing length, the order in which
/// sentencepiece's darts-clone <c>traverse</c> reports them; that order decides ties in the Viterbi search.
/// </remarks>
internal sealed class SentencePieceTrie
{
    private const int DenseThreshold = 16;

    // Node n: children at edges [_first[n], _first[n] + _count[n]) (labels sorted), or, if _count[n] < 0, in _dense[_first[n] ..+256].
    private readonly int[] _first;
    private readonly int[] _count;
    private readonly int[] _value;
    private readonly byte[] _labels;
    private readonly int[] _targets;
    private readonly int[] _dense;

    private SentencePieceTrie(int[] first, int[] count, int[] value, byte[] labels, int[] targets, int[] dense)
    {
        _first = first;
        _count = count;
        _value = value;
        _labels = labels;
        _targets = targets;
        _dense = dense;
    }

    /// <summary>The root node.</summary>
    public const int Root = 0;

    /// <summary>Builds the trie; keys must be distinct and non-empty.</summary>
    /// <param name="keys">UTF-8 keys.</param>
    /// <param name="values">The value of each key (≥ 0).</param>
    public static SentencePieceTrie Build(IReadOnlyList<byte[]> keys, IReadOnlyList<int> values)
    {
        int[] order = Enumerable.Range(0, keys.Count).ToArray();
        Array.Sort(order, (a, b) => keys[a].AsSpan().SequenceCompareTo(keys[b]));

        var first = new List<int>();
        var count = new List<int>();
        var value = new List<int>();
        var labels = new List<byte>();
        var targets = new List<int>();
        var dense = new List<int>();

        // Breadth-first over (node, depth, sorted key range) so that a node's children get consecutive edges.
        var queue = new Queue<(int Node, int Depth, int Lo, int Hi)>();
        first.Add(0);
        count.Add(0);
        value.Add(-1);
        queue.Enqueue((Root, 0, 0, order.Length));
        var children = new List<(byte Label, int Lo, int Hi)>();
        while (queue.Count > 0)
        {
            (int node, int depth, int lo, int hi) = queue.Dequeue();
            int i = lo;
            if (i < hi && keys[order[i]].Length == depth)
            {
                value[node] = values[order[i]];
                i++;
            }

            children.Clear();
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

            int firstChild = first.Count;
            foreach ((byte _, int cLo, int cHi) in children)
            {
                first.Add(0);
                count.Add(0);
                value.Add(-1);
                queue.Enqueue((first.Count - 1, depth + 1, cLo, cHi));
            }

            if (children.Count > DenseThreshold)
            {
                first[node] = dense.Count;
                count[node] = -1;
                int baseIndex = dense.Count;
                for (int k = 0; k < 256; k++)
                {
                    dense.Add(-1);
                }

                for (int k = 0; k < children.Count; k++)
                {
                    dense[baseIndex + children[k].Label] = firstChild + k;
                }
            }
            else
            {
                first[node] = labels.Count;
                count[node] = children.Count;
                for (int k = 0; k < children.Count; k++)
                {
                    labels.Add(children[k].Label);
                    targets.Add(firstChild + k);
                }
            }
        }

        return new SentencePieceTrie(first.ToArray(), count.ToArray(), value.ToArray(), labels.ToArray(), targets.ToArray(), dense.ToArray());
    }

    /// <summary>The child of <paramref name="node"/> along <paramref name="label"/>, or -1.</summary>
    public int Step(int node, byte label)
    {
        int count = _count[node];
        int first = _first[node];
        if (count < 0)
        {
            return _dense[first + label];
        }

        for (int k = first, end = first + count; k < end; k++)
        {
            byte l = _labels[k];
            if (l == label)
            {
                return _targets[k];
            }

            if (l > label)
            {
                break;
            }
        }

        return -1;
    }

    /// <summary>The value of the key ending at <paramref name="node"/>, or -1.</summary>
    public int Value(int node) => _value[node];

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

        return _value[node];
    }
}
