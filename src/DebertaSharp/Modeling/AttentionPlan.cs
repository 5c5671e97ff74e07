namespace DebertaSharp.Modeling;

/// <summary>
/// How one forward pass computes attention, decided once per pass by <see cref="AttentionPlan.Choose"/>; every layer's
/// attention follows it, and the relative positions are laid out for it.
/// </summary>
internal enum AttentionPath
{
    /// <summary>HF's algorithm: the whole 2·span-row table, the [Lq, Lk] index of every pair, explicit masked softmax.</summary>
    Reference,
    /// <summary>Fast: only the rows in use; every relative distance has (nearly) its own row, so scores over distances are shifted into pairs by a view.</summary>
    Shifted,
    /// <summary>Fast: only the rows in use, many distances per row (log buckets): scores over rows are gathered with the [Lq, Lk] index. Also the fast path without relative attention.</summary>
    Gathered,
    /// <summary>Fast, in chunks of query rows; the index is built per chunk, so nothing of size Lq × Lk is kept.</summary>
    Chunked,
}

/// <summary>The one place that decides the <see cref="AttentionPath"/> of a forward pass.</summary>
internal static class AttentionPlan
{
    /// <summary>
    /// The path for <paramref name="queryLength"/> × <paramref name="keyLength"/> under <paramref name="options"/>, when
    /// the pairs reach <paramref name="rowsInUse"/> rows of the relative table (0 without relative attention).
    /// Shifted against gathered is arithmetic: shifting scores Lq + Lk − 1 distance columns instead of the rows in use,
    /// i.e. (width − rows)·2·d extra multiply-adds per (query, head) for c2p and p2c together, while gathering reads
    /// 2·Lk elements per (query, head) through an index. One gathered element costs about as much as
    /// <see cref="GatherCostInMultiplyAdds"/> multiply-adds of a GEMM (memory-bound index reads against a compute-bound
    /// kernel), so shifting wins while (width − rows)·d ≤ GatherCostInMultiplyAdds · Lk.
    /// </summary>
    public static AttentionPath Choose(AttentionOptions options, long queryLength, long keyLength, long rowsInUse, long headSize)
    {
        if (options.Implementation == AttentionImplementation.Reference) return AttentionPath.Reference;
        if (queryLength > options.ChunkQueriesAbove) return AttentionPath.Chunked;
        if (rowsInUse == 0) return AttentionPath.Gathered;
        long width = queryLength + keyLength - 1;
        return (width - rowsInUse) * headSize <= GatherCostInMultiplyAdds * keyLength ? AttentionPath.Shifted : AttentionPath.Gathered;
    }

    /// <summary>
    /// Multiply-adds of a float GEMM that cost as much as gathering one element through an int64 index (a cache-missing
    /// load plus the index read): a GEMM core does tens of multiply-adds per cycle, a gather about one element per cycle.
    /// </summary>
    internal const long GatherCostInMultiplyAdds = 16;
}
