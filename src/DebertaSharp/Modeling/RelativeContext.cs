using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// What every layer's disentangled attention shares in one forward pass: the relative-embedding rows in use
/// (already normalised) and how each (query, key) pair finds its row. Built once per forward by
/// <see cref="DebertaEncoder.BuildRelativeContext"/>.
/// </summary>
public sealed class RelativeContext : IDisposable
{
    internal RelativeContext(AttentionPath layout, Tensor embeddings, Tensor? index, Tensor? distanceIndex,
        long span, long queryLength, long keyLength, Tensor? indexByKey = null, Tensor? table = null, long firstRow = 0,
        Tensor? tableFingerprint = null, Tensor?[]? tableSources = null)
    {
        Layout = layout;
        Embeddings = embeddings;
        Table = table;
        FirstRow = firstRow;
        TableFingerprint = tableFingerprint;
        TableSources = tableSources;
        Index = index;
        IndexByKey = indexByKey;
        DistanceIndex = distanceIndex;
        Span = span;
        QueryLength = queryLength;
        KeyLength = keyLength;
    }

    internal AttentionPath Layout { get; }

    /// <summary>
    /// The whole (normalised) relative table [rows, hidden] that <see cref="Embeddings"/> is the slice
    /// [<see cref="FirstRow"/>, FirstRow + R) of; set, with <see cref="TableFingerprint"/>, only for inference passes
    /// (eval mode, no autograd), where layers keep their projections of it between passes.
    /// </summary>
    internal Tensor? Table { get; }

    /// <summary>Row of <see cref="Table"/> where <see cref="Embeddings"/> starts.</summary>
    internal long FirstRow { get; }

    /// <summary>
    /// <see cref="InferenceCache.Fingerprint"/> of <see cref="TableSources"/>; <c>null</c> when they are frozen for
    /// inference (<see cref="FrozenWeights"/>), where layers fingerprint them only if their own parameters are not.
    /// </summary>
    internal Tensor? TableFingerprint { get; }

    /// <summary>The parameters <see cref="Table"/> is computed from (the relative embeddings, their LayerNorm); not owned.</summary>
    internal Tensor?[]? TableSources { get; }

    /// <summary>
    /// Relative-embedding rows in use, [R, hidden]: the whole table (R = 2·span) for the reference implementation,
    /// otherwise only the rows some (query, key) pair reaches.
    /// </summary>
    public Tensor Embeddings { get; }

    /// <summary>
    /// Row of <see cref="Embeddings"/> for each (query i, key j) pair, int64 [Lq, Lk]; <c>null</c> for layouts that do
    /// not need it (it is the table index clamp(bucket(i − j) + span, 0, 2·span − 1) minus the first row in use).
    /// </summary>
    public Tensor? Index { get; }

    /// <summary>
    /// <see cref="Index"/>[i, j] + j·R (R = rows of <see cref="Embeddings"/>), int64 [1, 1, Lq·Lk]: the position of
    /// p2c[i, j] = scores[j, Index[i, j]] in key-by-row scores [.., Lk, R] flattened to [.., Lk·R], so that p2c is
    /// gathered straight into query-major order; <c>null</c> with <see cref="Index"/>.
    /// </summary>
    internal Tensor? IndexByKey { get; }

    /// <summary><see cref="IndexByKey"/> for an [n, Lk] block of <see cref="Index"/> over <paramref name="rows"/> rows, [1, 1, n·Lk]; caller's scope.</summary>
    internal static Tensor KeyRowIndex(Tensor index, long rows)
    {
        using var scope = NewDisposeScope();
        long keys = index.shape[1];
        var offsets = arange(keys, dtype: ScalarType.Int64, device: index.device).mul_(rows);   // j·R
        return (index + offsets.unsqueeze(0)).view(1, 1, -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Row of <see cref="Embeddings"/> for each relative distance r = i − j in ascending order, −(Lk − 1) … Lq − 1,
    /// int64 [Lq + Lk − 1]; <c>null</c> for the reference layout.
    /// </summary>
    public Tensor? DistanceIndex { get; }

    private int[]? _distanceRows;

    /// <summary><see cref="DistanceIndex"/> as a managed array (read once per forward, for <see cref="PositionBiasKernel"/>).</summary>
    internal int[] DistanceRows => _distanceRows ??= DistanceIndex!.to(ScalarType.Int32).cpu().data<int>().ToArray();

    /// <summary>Half the number of rows of the full relative-embedding table in use (before narrowing to the rows reached).</summary>
    public long Span { get; }

    /// <summary>Query length the context was built for.</summary>
    public long QueryLength { get; }

    /// <summary>Key length the context was built for.</summary>
    public long KeyLength { get; }

    /// <summary>
    /// Rows of <see cref="Embeddings"/> for query rows [<paramref name="start"/>, start + <paramref name="count"/>)
    /// against every key: int64 [count, Lk], from <see cref="DistanceIndex"/>. Belongs to the caller's scope.
    /// </summary>
    internal Tensor PairIndex(long start, long count) => PairIndex(DistanceIndex!, start, count, KeyLength);

    /// <summary>index[i, j] = <paramref name="distanceIndex"/>[(start + i) − j + Lk − 1], int64 [count, Lk].</summary>
    internal static Tensor PairIndex(Tensor distanceIndex, long start, long count, long keyLength)
    {
        using var scope = NewDisposeScope();
        var device = distanceIndex.device;
        var queries = arange(start + keyLength - 1, start + count + keyLength - 1, dtype: ScalarType.Int64, device: device);
        var keys = arange(keyLength, dtype: ScalarType.Int64, device: device);
        var position = queries.unsqueeze(1) - keys.unsqueeze(0);                       // [count, Lk]
        return distanceIndex.index_select(0, position.view(-1)).view(count, keyLength).MoveToOuterDisposeScope();
    }

    /// <summary>The tensors of this context in a fixed order (for recomputation), nulls included.</summary>
    internal Tensor?[] Tensors => [Embeddings, Index, DistanceIndex, IndexByKey];

    /// <summary>The same context over other tensors (in the order of <see cref="Tensors"/>); the result owns nothing.</summary>
    internal RelativeContext With(IReadOnlyList<Tensor?> tensors) =>
        new(Layout, tensors[0]!, tensors[1], tensors[2], Span, QueryLength, KeyLength, tensors[3]);       // no Table: recomputation is training

    /// <summary>Whether the pass may reuse layers' projections of <see cref="Table"/>.</summary>
    internal bool CachesProjections => Table is not null && TableSources is not null;

    /// <inheritdoc/>
    public void Dispose()
    {
        Embeddings.Dispose();
        Table?.Dispose();
        TableFingerprint?.Dispose();
        Index?.Dispose();
        IndexByKey?.Dispose();
        DistanceIndex?.Dispose();
    }
}
