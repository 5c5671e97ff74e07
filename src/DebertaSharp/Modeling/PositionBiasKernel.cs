using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The c2p + p2c bias of the fast and chunked attention paths in one pass over its output, for float32 CPU inference
/// (autograd off). libtorch needs two gathers (or a shifted view and a tiled transpose) and an add, each a full pass
/// over a [B, heads, Lq, Lk] tensor; here every bias element is read from the two score tensors and written once:
/// <code>
/// gathered: bias[i, j] = p2cScores[j, row(i − j)] + c2pScores[i, row(i − j)]      (scores against the rows in use)
/// shifted:  bias[i, j] = p2cByDistance[j, i − j + Lk − 1] + c2pByDistance[i, j − i + Lq − 1]
/// </code>
/// where row(r) is <see cref="RelativeContext.DistanceIndex"/>. The sums are those libtorch's path forms (p2c + c2p,
/// each term the same float), so the result is bit for bit the same. Work is split over (batch·head, key block)
/// across torch's intra-op thread count.
/// </summary>
internal static class PositionBiasKernel
{
    private const int KeyBlock = 64;          // keys per task: their p2c rows (64 × R floats) stay in cache across queries

    /// <summary>Off in tests that compare against libtorch's path.</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Whether the kernel can take these score tensors (float32, CPU, contiguous, autograd off).</summary>
    internal static bool Applies(Tensor? c2p, Tensor? p2c, long outputElements) =>
        Enabled && !is_grad_enabled() && (c2p is not null || p2c is not null) && outputElements < int.MaxValue / sizeof(float)
        && (c2p is null || Fits(c2p)) && (p2c is null || Fits(p2c));

    private static bool Fits(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.dim() == 4 && t.is_contiguous()
        && t.numel() < int.MaxValue / sizeof(float);                        // reached through Tensor.bytes (a Span)

    private static unsafe nint Address(Tensor? t)
    {
        if (t is null) return 0;
        fixed (byte* p = t.bytes) return (nint)p;                         // native memory: the address stays valid while t lives
    }

    /// <summary>
    /// The bias [B, heads, count, Lk] of query rows [<paramref name="start"/>, start + count) from scores against the
    /// rows in use: <paramref name="c2p"/> [B, heads, Lq, R] (query by row) and <paramref name="p2c"/> [B, heads, Lk, R]
    /// (key by row); <paramref name="distanceRows"/>[r + Lk − 1] is the row of distance r = i − j.
    /// </summary>
    internal static unsafe Tensor Gathered(Tensor? c2p, Tensor? p2c, int[] distanceRows, long start, long count, long keys)
    {
        var any = c2p ?? p2c!;
        long b = any.shape[0], heads = any.shape[1], rows = any.shape[3];
        long queries = c2p?.shape[2] ?? 0;
        var bias = empty([b, heads, count, keys], dtype: ScalarType.Float32);
        long keyBlocks = (keys + KeyBlock - 1) / KeyBlock;
        fixed (int* d = distanceRows)
        {
            nint dp = (nint)d, op = Address(bias), cp = Address(c2p), pp = Address(p2c);
            KernelTasks.Run(b * heads * keyBlocks, task => GatheredBlock(task, keyBlocks, (int*)dp, (float*)op, (float*)cp, (float*)pp, rows, queries, start, count, keys));
        }
        GC.KeepAlive(c2p);
        GC.KeepAlive(p2c);
        return bias;
    }

    // One (batch·head, key block): every argument a local, so the loops run on registers. Optimised at first call:
    // under tiered compilation a kernel called a few hundred times would run its first calls unoptimised.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GatheredBlock(long task, long keyBlocks, int* dist, float* o, float* c, float* p,
        long rows, long queries, long start, long count, long keys)
    {
        long bh = task / keyBlocks, j0 = task % keyBlocks * KeyBlock;
        int n = (int)(Math.Min(keys, j0 + KeyBlock) - j0);
        if (c is not null) c += bh * queries * rows;
        if (p is not null) p += (bh * keys + j0) * rows;                          // p2c rows of this block's keys
        o += bh * count * keys + j0;
        for (long i = 0; i < count; i++, o += keys)
        {
            long q = start + i;
            int* distRow = dist + q + keys - 1 - j0;                               // distRow[−j] = row(q − (j0 + j))
            if (c is not null && p is not null)
            {
                float* cRow = c + q * rows;
                float* pRow = p;
                for (int j = 0; j < n; j++, pRow += rows)
                {
                    int r = distRow[-j];
                    o[j] = pRow[r] + cRow[r];
                }
            }
            else if (c is not null)
            {
                float* cRow = c + q * rows;
                for (int j = 0; j < n; j++) o[j] = cRow[distRow[-j]];
            }
            else
            {
                float* pRow = p;
                for (int j = 0; j < n; j++, pRow += rows) o[j] = pRow[distRow[-j]];
            }
        }
    }

    /// <summary>
    /// The bias [B, heads, Lq, Lk] from scores against one row per distance: <paramref name="c2p"/> [B, heads, Lq, W]
    /// with columns in descending distance (Lq − 1 … −(Lk − 1)) and <paramref name="p2c"/> [B, heads, Lk, W] in ascending
    /// distance, W = Lq + Lk − 1.
    /// </summary>
    internal static unsafe Tensor Shifted(Tensor? c2p, Tensor? p2c, long queries, long keys)
    {
        var any = c2p ?? p2c!;
        long b = any.shape[0], heads = any.shape[1], width = any.shape[3];
        var bias = empty([b, heads, queries, keys], dtype: ScalarType.Float32);
        nint op = Address(bias), cp = Address(c2p), pp = Address(p2c);
        long keyBlocks = (keys + KeyBlock - 1) / KeyBlock;
        KernelTasks.Run(b * heads * keyBlocks, task => ShiftedBlock(task, keyBlocks, (float*)op, (float*)cp, (float*)pp, width, queries, keys));
        GC.KeepAlive(c2p);
        GC.KeepAlive(p2c);
        return bias;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ShiftedBlock(long task, long keyBlocks, float* o, float* c, float* p, long width, long queries, long keys)
    {
        long bh = task / keyBlocks, j0 = task % keyBlocks * KeyBlock;
        int n = (int)(Math.Min(keys, j0 + KeyBlock) - j0);
        if (c is not null) c += bh * queries * width;
        if (p is not null) p += (bh * keys + j0) * width;
        o += bh * queries * keys + j0;
        long pStep = width - 1;                                                    // p2c[j, i − j + Lk − 1]: one row down, one column left
        for (long i = 0; i < queries; i++, o += keys)
        {
            float* cRow = c is null ? null : c + i * width + queries - 1 - i + j0;  // cRow[j] = c2p[i, (j0 + j) − i + Lq − 1]
            float* pAt = p is null ? null : p + i + keys - 1 - j0;                 // pAt[j·(W − 1)] = p2c[j0 + j, i − (j0 + j) + Lk − 1]
            if (c is not null && p is not null)
            {
                for (int j = 0; j < n; j++, pAt += pStep) o[j] = *pAt + cRow![j];
            }
            else if (c is not null)
            {
                for (int j = 0; j < n; j++) o[j] = cRow![j];
            }
            else
            {
                for (int j = 0; j < n; j++, pAt += pStep) o[j] = *pAt;
            }
        }
    }
}
