using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>How a <see cref="RelativeContext"/> lays out its rows for the attention.</summary>
internal enum RelativeLayout
{
    /// <summary>Reference: the whole 2·span-row table and the [Lq, Lk] index of every pair.</summary>
    Table,
    /// <summary>Only the rows in use; every relative distance has (nearly) its own row, so scores over distances are shifted into pairs by a view.</summary>
    Shifted,
    /// <summary>Only the rows in use, many distances per row (log buckets): scores over rows are gathered with the [Lq, Lk] index.</summary>
    Gathered,
    /// <summary>Only the rows in use; the index is built per chunk of query rows, so nothing of size Lq × Lk is kept.</summary>
    Chunked,
}

/// <summary>
/// What every layer's disentangled attention shares in one forward pass: the relative-embedding rows in use
/// (already normalised) and how each (query, key) pair finds its row. Built once per forward by
/// <see cref="DebertaEncoder.BuildRelativeContext"/>.
/// </summary>
public sealed class RelativeContext : IDisposable
{
    internal RelativeContext(RelativeLayout layout, Tensor embeddings, Tensor? index, Tensor? distanceIndex,
        long span, long queryLength, long keyLength)
    {
        Layout = layout;
        Embeddings = embeddings;
        Index = index;
        DistanceIndex = distanceIndex;
        Span = span;
        QueryLength = queryLength;
        KeyLength = keyLength;
    }

    internal RelativeLayout Layout { get; }

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
    /// Row of <see cref="Embeddings"/> for each relative distance r = i − j in ascending order, −(Lk − 1) … Lq − 1,
    /// int64 [Lq + Lk − 1]; <c>null</c> for the reference layout.
    /// </summary>
    public Tensor? DistanceIndex { get; }

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
    internal Tensor?[] Tensors => [Embeddings, Index, DistanceIndex];

    /// <summary>The same context over other tensors (in the order of <see cref="Tensors"/>); the result owns nothing.</summary>
    internal RelativeContext With(IReadOnlyList<Tensor?> tensors) =>
        new(Layout, tensors[0]!, tensors[1], tensors[2], Span, QueryLength, KeyLength);

    /// <inheritdoc/>
    public void Dispose()
    {
        Embeddings.Dispose();
        Index?.Dispose();
        DistanceIndex?.Dispose();
    }
}
