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
/// each term the same float), so the result is bit for bit the same. Work is split over (batch·head, block of
/// <see cref="QueryBlock"/> query rows) across torch's intra-op thread count; a task writes its rows in runs of
/// <see cref="KeyRun"/> keys, every row of the block for one run before the next.
/// </summary>
/// <remarks>
/// Long runs of a row, not 64-key blocks down every row: an earlier split wrote 64 keys (256 bytes) of a row and
/// jumped a row (2 KB at 512 keys) down, a store pattern the hardware prefetchers do not follow, so the stores missed.
/// Writing a constant in that order took 8–9 ms at [12, 512, 512] on a Xeon (family 6 model 207, 1 thread) where a
/// contiguous fill took 0.5 ms, as long as the whole pass. Whole rows (2048 keys) lost at 1×2048: a row's p2c reads
/// (one line per key, 128 KB) no longer fit L1 (1.41–1.48× the old time). Runs of 512 keys measured 0.76–0.85× the
/// old time at [12, 512, 512] and 0.89–0.95× at the chunked 1×2048 shape ([12, 256, 2048] of [12, 2048, 512]
/// scores), three processes each, old and new interleaved in each.
/// </remarks>
internal static class PositionBiasKernel
{
    private const int QueryBlock = 16;        // query rows per task
    private const int KeyRun = 512;           // keys of a row written in one go; their p2c lines (32 KB) stay in L1 across the block's rows

    /// <summary>Off in tests that compare against libtorch's path.</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Whether the kernel can take these score tensors (float32, CPU, contiguous, autograd off).</summary>
    internal static bool Applies(Tensor? c2p, Tensor? p2c, long outputElements) =>
        Enabled && !is_grad_enabled() && (c2p is not null || p2c is not null) && outputElements < int.MaxValue / sizeof(float)
        && (c2p is null || Fits(c2p)) && (p2c is null || Fits(p2c));

    private static bool Fits(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.dim() == 4 && t.is_contiguous()
        && t.numel() < int.MaxValue / sizeof(float);                        // reached through Tensor.bytes (a Span)

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
        long queryBlocks = (count + QueryBlock - 1) / QueryBlock;
        fixed (int* d = distanceRows)
        {
            nint dp = (nint)d, op = KernelTasks.Address(bias), cp = KernelTasks.Address(c2p), pp = KernelTasks.Address(p2c);
            KernelTasks.Run(b * heads * queryBlocks, task => GatheredBlock(task, queryBlocks, (int*)dp, (float*)op, (float*)cp, (float*)pp, rows, queries, start, count, keys));
        }
        GC.KeepAlive(c2p);
        GC.KeepAlive(p2c);
        return bias;
    }

    // One (batch·head, query block): every argument a local, so the loops run on registers. Optimised at first call:
    // under tiered compilation a kernel called a few hundred times would run its first calls unoptimised.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GatheredBlock(long task, long queryBlocks, int* dist, float* output, float* c, float* p,
        long rows, long queries, long start, long count, long keys)
    {
        long bh = task / queryBlocks, i0 = task % queryBlocks * QueryBlock, i1 = Math.Min(count, i0 + QueryBlock);
        if (c is not null) c += bh * queries * rows;
        if (p is not null) p += bh * keys * rows;
        for (long j0 = 0; j0 < keys; j0 += KeyRun)
        {
            int n = (int)Math.Min(KeyRun, keys - j0);
            float* o = output + (bh * count + i0) * keys + j0;
            for (long i = i0; i < i1; i++, o += keys)
            {
                long q = start + i;
                int* distRow = dist + q + keys - 1 - j0;                               // distRow[−j] = row(q − (j0 + j))
                // Eight keys per step with independent loads (scalar: gathers measured 2.5× slower on a Zen 5, and the
                // one-key loop's index arithmetic took twice as long as the loads it fed).
                float* cRow = c is null ? null : c + q * rows;
                float* pRow = p is null ? null : p + j0 * rows;
                int j = 0;
                if (c is not null && p is not null)
                {
                    for (; j + 8 <= n; j += 8, pRow += 8 * rows)
                    {
                        int* d = distRow - j;
                        long r0 = d[0], r1 = d[-1], r2 = d[-2], r3 = d[-3], r4 = d[-4], r5 = d[-5], r6 = d[-6], r7 = d[-7];
                        o[j] = pRow[r0] + cRow[r0];
                        o[j + 1] = pRow[rows + r1] + cRow[r1];
                        o[j + 2] = pRow[2 * rows + r2] + cRow[r2];
                        o[j + 3] = pRow[3 * rows + r3] + cRow[r3];
                        o[j + 4] = pRow[4 * rows + r4] + cRow[r4];
                        o[j + 5] = pRow[5 * rows + r5] + cRow[r5];
                        o[j + 6] = pRow[6 * rows + r6] + cRow[r6];
                        o[j + 7] = pRow[7 * rows + r7] + cRow[r7];
                    }
                    for (; j < n; j++, pRow += rows)
                    {
                        int r = distRow[-j];
                        o[j] = pRow[r] + cRow[r];
                    }
                }
                else if (c is not null)
                {
                    for (; j + 8 <= n; j += 8)
                    {
                        int* d = distRow - j;
                        o[j] = cRow![d[0]]; o[j + 1] = cRow[d[-1]]; o[j + 2] = cRow[d[-2]]; o[j + 3] = cRow[d[-3]];
                        o[j + 4] = cRow[d[-4]]; o[j + 5] = cRow[d[-5]]; o[j + 6] = cRow[d[-6]]; o[j + 7] = cRow[d[-7]];
                    }
                    for (; j < n; j++) o[j] = cRow![distRow[-j]];
                }
                else
                {
                    for (; j + 8 <= n; j += 8, pRow += 8 * rows)
                    {
                        int* d = distRow - j;
                        o[j] = pRow[d[0]]; o[j + 1] = pRow[rows + d[-1]]; o[j + 2] = pRow[2 * rows + d[-2]]; o[j + 3] = pRow[3 * rows + d[-3]];
                        o[j + 4] = pRow[4 * rows + d[-4]]; o[j + 5] = pRow[5 * rows + d[-5]]; o[j + 6] = pRow[6 * rows + d[-6]]; o[j + 7] = pRow[7 * rows + d[-7]];
                    }
                    for (; j < n; j++, pRow += rows) o[j] = pRow[distRow[-j]];
                }
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
        nint op = KernelTasks.Address(bias), cp = KernelTasks.Address(c2p), pp = KernelTasks.Address(p2c);
        long queryBlocks = (queries + QueryBlock - 1) / QueryBlock;
        KernelTasks.Run(b * heads * queryBlocks, task => ShiftedBlock(task, queryBlocks, (float*)op, (float*)cp, (float*)pp, width, queries, keys));
        GC.KeepAlive(c2p);
        GC.KeepAlive(p2c);
        return bias;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ShiftedBlock(long task, long queryBlocks, float* output, float* c, float* p, long width, long queries, long keys)
    {
        long bh = task / queryBlocks, i0 = task % queryBlocks * QueryBlock, i1 = Math.Min(queries, i0 + QueryBlock);
        if (c is not null) c += bh * queries * width;
        if (p is not null) p += bh * keys * width;
        long pStep = width - 1;                                                    // p2c[j, i − j + Lk − 1]: one row down, one column left
        for (long j0 = 0; j0 < keys; j0 += KeyRun)
        {
            int n = (int)Math.Min(KeyRun, keys - j0);
            float* o = output + (bh * queries + i0) * keys + j0;
            for (long i = i0; i < i1; i++, o += keys)
            {
                float* cRow = c is null ? null : c + i * width + queries - 1 - i + j0;  // cRow[j] = c2p[i, (j0 + j) − i + Lq − 1]
                float* pAt = p is null ? null : p + j0 * width + i + keys - 1 - j0;    // pAt[j·(W − 1)] = p2c[j0 + j, i − (j0 + j) + Lk − 1]
                int j = 0;
                if (c is not null && p is not null)
                {
                    for (; j + 8 <= n; j += 8, pAt += 8 * pStep)                    // eight keys per step, as in GatheredBlock
                    {
                        o[j] = pAt[0] + cRow![j]; o[j + 1] = pAt[pStep] + cRow[j + 1];
                        o[j + 2] = pAt[2 * pStep] + cRow[j + 2]; o[j + 3] = pAt[3 * pStep] + cRow[j + 3];
                        o[j + 4] = pAt[4 * pStep] + cRow[j + 4]; o[j + 5] = pAt[5 * pStep] + cRow[j + 5];
                        o[j + 6] = pAt[6 * pStep] + cRow[j + 6]; o[j + 7] = pAt[7 * pStep] + cRow[j + 7];
                    }
                    for (; j < n; j++, pAt += pStep) o[j] = *pAt + cRow![j];
                }
                else if (c is not null)
                {
                    new ReadOnlySpan<float>(cRow, n).CopyTo(new Span<float>(o, n));
                }
                else
                {
                    for (; j + 8 <= n; j += 8, pAt += 8 * pStep)
                    {
                        o[j] = pAt[0]; o[j + 1] = pAt[pStep]; o[j + 2] = pAt[2 * pStep]; o[j + 3] = pAt[3 * pStep];
                        o[j + 4] = pAt[4 * pStep]; o[j + 5] = pAt[5 * pStep]; o[j + 6] = pAt[6 * pStep]; o[j + 7] = pAt[7 * pStep];
                    }
                    for (; j < n; j++, pAt += pStep) o[j] = *pAt;
                }
            }
        }
    }
}
