using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Relative positions of the DeBERTa paper (§3.1) and their log-bucketing (DeBERTa v2/v3), as pure functions.
/// The relative position of query i and key j is r = i − j.
/// </summary>
public static class RelativePositions
{
    /// <summary>
    /// The log bucket of one relative distance, as HF's <c>make_log_bucket_position</c> computes it in float32:
    /// distances within ±bucketSize/2 stay as they are; longer ones are compressed logarithmically up to
    /// <paramref name="maxPosition"/>. There is no clamping: |r| ≥ maxPosition maps beyond ±bucketSize/2 + (mid − 1).
    /// </summary>
    internal static long LogBucket(long relative, int bucketSize, int maxPosition)
    {
        int mid = bucketSize / 2;
        if (Math.Abs(relative) <= mid) return relative;
        float absPos = Math.Abs(relative);
        float logRange = MathF.Log((float)((maxPosition - 1) / (double)mid));
        float logPos = MathF.Ceiling(MathF.Log(absPos / mid) / logRange * (mid - 1)) + mid;
        return (long)(logPos * Math.Sign(relative));
    }

    /// <summary>
    /// Relative positions r[i, j] = i − j for <paramref name="queryLength"/> × <paramref name="keyLength"/>, log-bucketed when
    /// <paramref name="bucketSize"/> &gt; 0 and <paramref name="maxPosition"/> &gt; 0. int64 tensor [Lq, Lk] on <paramref name="device"/>.
    /// </summary>
    public static Tensor Build(long queryLength, long keyLength, int bucketSize, int maxPosition, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var q = arange(queryLength, dtype: ScalarType.Int64, device: device);
        var k = arange(keyLength, dtype: ScalarType.Int64, device: device);
        var rel = q.unsqueeze(1) - k.unsqueeze(0);                       // [Lq, Lk]
        if (bucketSize > 0 && maxPosition > 0) rel = MakeLogBucketPosition(rel, bucketSize, maxPosition);
        return rel.MoveToOuterDisposeScope();
    }

    /// <summary>Applies HF's <c>make_log_bucket_position</c> elementwise, in the same float32 tensor arithmetic as HF.</summary>
    public static Tensor MakeLogBucketPosition(Tensor relative, int bucketSize, int maxPosition)
    {
        using var scope = NewDisposeScope();
        long mid = bucketSize / 2;
        var sign = relative.sign();
        var inside = relative.lt(mid).logical_and(relative.gt(-mid));
        var absPos = where(inside, full_like(relative, mid - 1), relative.abs());
        var logRange = tensor((float)((maxPosition - 1) / (double)mid), device: relative.device).log();
        var logPos = (absPos.to(ScalarType.Float32) / mid).log().div(logRange).mul(mid - 1).ceil().add(mid);
        var bucket = where(absPos.le(mid), relative.to(ScalarType.Float32), logPos * sign);
        return bucket.to(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Row index into a relative-embedding table of 2·<paramref name="span"/> rows: clamp(r + span, 0, 2·span − 1).
    /// </summary>
    public static Tensor ToTableIndex(Tensor relative, long span) => (relative + span).clamp(0, 2 * span - 1);

    /// <summary>
    /// Turns scores against one row per relative distance into scores per (row, column) pair by a view, no copy:
    /// <paramref name="byDistance"/> [..., n, n + m − 1] (m = <paramref name="columns"/>) gives out[..., a, b] =
    /// byDistance[..., a, b − a + n − 1], [..., n, m]. Used with distance-ordered projections of the relative rows, this
    /// replaces a gather over an [n, m] index (the "relative shift" of Transformer-XL, here without padding).
    /// <paramref name="byDistance"/> must be contiguous.
    /// </summary>
    public static Tensor ShiftToPairs(Tensor byDistance, long columns)
    {
        var shape = byDistance.shape;
        int dims = shape.Length;
        long n = shape[dims - 2], width = shape[dims - 1];
        if (width != n + columns - 1)
            throw new ArgumentException($"ShiftToPairs needs {n} + {columns} - 1 = {n + columns - 1} distance columns, got {width}.", nameof(byDistance));
        if (!byDistance.is_contiguous())
            throw new ArgumentException("ShiftToPairs needs a contiguous tensor.", nameof(byDistance));
        if (n == 1) return byDistance.narrow(-1, 0, columns);       // one row: already in pair order
        // Flat offset of out[a, b] = (n − 1) + a·(width − 1) + b: rows of width − 1 starting at n − 1, first m columns.
        var rowShape = shape.Take(dims - 2).Concat(new[] { n, width - 1 }).ToArray();
        return byDistance.flatten(dims - 2).narrow(-1, n - 1, n * (width - 1)).view(rowShape).narrow(-1, 0, columns);
    }
}
