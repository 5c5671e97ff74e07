namespace DebertaSharp.Training.Data;

/// <summary>
/// Which items form each batch of an epoch: a pure function of (seed, epoch), so a resumed run sees the same batches.
/// With length bucketing, items are shuffled, cut into mega-batches of 50 batches, each sorted by length and split
/// (HF's <c>group_by_length</c>), so that batches hold similar lengths and padding stays small; the batch order is then shuffled.
/// </summary>
public static class BatchPlan
{
    /// <summary>How many batches make a mega-batch when bucketing by length.</summary>
    public const int MegaBatchFactor = 50;

    /// <summary>The training batches of <paramref name="epoch"/>.</summary>
    public static IReadOnlyList<int[]> ForEpoch(FineTuningDataset data, int batchSize, int seed, int epoch, bool groupByLength)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var order = TrainingSeed.Permutation(data.Count, seed, epoch);
        if (!groupByLength) return Chunk(order, batchSize);
        var batches = new List<int[]>();
        foreach (var mega in order.Chunk(batchSize * MegaBatchFactor))
            batches.AddRange(Chunk(mega.OrderByDescending(data.LengthOf).ToArray(), batchSize));
        // Shuffle the batch order too, or every mega-batch would run from long to short.
        var batchOrder = TrainingSeed.Permutation(batches.Count, seed, -1 - epoch);
        return batchOrder.Select(i => batches[i]).ToList();
    }

    /// <summary>Evaluation batches: every item once, sorted by length when <paramref name="groupByLength"/> (the order does not change the scores).</summary>
    public static IReadOnlyList<int[]> ForEvaluation(FineTuningDataset data, int batchSize, bool groupByLength)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var order = Enumerable.Range(0, data.Count);
        if (groupByLength) order = order.OrderBy(data.LengthOf);
        return Chunk(order.ToArray(), batchSize);
    }

    /// <summary>Number of batches an epoch has.</summary>
    public static int BatchesPerEpoch(int count, int batchSize) => (count + batchSize - 1) / batchSize;

    private static List<int[]> Chunk(int[] items, int size) => items.Chunk(size).ToList();
}
