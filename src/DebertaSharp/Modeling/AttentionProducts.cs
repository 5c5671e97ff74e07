using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The attention's batched products with a small inner dimension, for float32 CPU inference (autograd off): q·kᵀ,
/// the c2p and p2c scores (K = head size, 64 in every DeBERTa) and probabilities·v (N = head size). libtorch sends
/// them to oneMKL's batched SGEMM, which measured 40–70 GFLOP/s at these shapes on a Zen 5 core (and does not run
/// AVX-512 at full width on AMD CPUs); here a register-blocked kernel (8 rows × 2 vectors of columns, AVX-512 or
/// AVX2 + FMA) runs them over packed column panels, split over (batch·head, row block) across torch's thread count.
/// </summary>
/// <remarks>
/// Each output element is one sum over k in ascending order, in float32 (fused multiply-adds), added to the existing
/// value when accumulating: rounding differs from oneMKL's by a few ulps, within the model's parity tolerance.
/// CPUs without AVX2 + FMA take libtorch's products (<see cref="Applies"/> is false).
/// </remarks>
internal static class AttentionProducts
{
    private const int Rows = 8;                 // rows of the register block
    private const int RowBlock = 64;            // rows per task

    /// <summary>Off in tests that compare against libtorch's products.</summary>
    internal static bool Enabled { get; set; } = true;

    private static readonly int NativeLanes = Avx512F.IsSupported ? 16 : Avx2.IsSupported && Fma.IsSupported ? 8 : 0;

    /// <summary>
    /// Floats per vector of the kernel in use: 16 (AVX-512), 8 (AVX2 + FMA) or 0 (neither: libtorch's products). Tests
    /// set 8 on an AVX-512 CPU to run the AVX2 kernel; a value the CPU cannot run is refused.
    /// </summary>
    internal static int Lanes
    {
        get => _lanes;
        set
        {
            if (value is not (0 or 8 or 16) || value > NativeLanes)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"This CPU runs 0{(NativeLanes >= 8 ? ", 8" : "")}{(NativeLanes == 16 ? " or 16" : "")} lanes.");
            _lanes = value;
        }
    }

    private static int _lanes = NativeLanes;

    /// <summary>Columns of one packed panel: the register block's two vectors.</summary>
    private static int Panel => 2 * Lanes;

    /// <summary>Whether these operands take the kernel: float32, CPU, 3-D, contiguous, autograd off, a vector ISA present.</summary>
    internal static bool Applies(params Tensor?[] operands)
    {
        if (!Enabled || Lanes == 0 || is_grad_enabled()) return false;
        foreach (var t in operands)
            if (t is not null && !(t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.dim() == 3
                                   && t.is_contiguous() && t.numel() < int.MaxValue / sizeof(float) && t.numel() > 0))
                return false;
        return true;
    }

    /// <summary>
    /// C[g] = A[g]·B[g mod Gb]ᵀ (+ C[g] when <paramref name="accumulate"/> is given, which is then written and returned):
    /// <paramref name="a"/> [G, M, K], <paramref name="b"/> [Gb, N, K] with G a multiple of Gb (a [heads, …] operand
    /// shared by every batch row of a [batch·heads, …] one), result [G, M, N].
    /// </summary>
    internal static Tensor TimesTransposed(Tensor a, Tensor b, Tensor? accumulate = null)
    {
        bool fits = b.dim() == 3 && b.shape[2] == a.shape[2];
        CheckTimesTransposed(a, fits, fits ? b.shape[0] : 0, fits ? b.shape[1] : 0, accumulate, $"b {Shapes.Format(b.shape)}");   // before packing
        using var packed = PackTransposed(b);
        return TimesTransposed(a, packed, b.shape[1], accumulate);
    }

    /// <summary>
    /// <see cref="TimesTransposed(Tensor, Tensor, Tensor?)"/> against a right operand packed once by
    /// <see cref="PackTransposed"/> (<paramref name="n"/> = its rows), for products that share it (a layer's query chunks).
    /// </summary>
    internal static Tensor TimesTransposed(Tensor a, Tensor packed, long n, Tensor? accumulate)
    {
        long groups = a.shape[0], m = a.shape[1], k = a.shape[2], bGroups = packed.shape[0];
        CheckTimesTransposed(a, FitsPacked(packed, n, k), bGroups, n, accumulate, $"b packed as {Shapes.Format(packed.shape)} for {n} rows");
        var c = accumulate ?? empty([groups, m, n], dtype: ScalarType.Float32);
        Multiply(a, packed, c, groups, bGroups, m, n, k, accumulate is not null);
        return c;
    }

    // The one shape check of both TimesTransposed forms: b (however held) fits a, its groups divide a's, accumulate is [G, M, N].
    private static void CheckTimesTransposed(Tensor a, bool bFits, long bGroups, long n, Tensor? accumulate, string b)
    {
        if (!bFits || bGroups == 0 || a.shape[0] % bGroups != 0
            || (accumulate is not null && !accumulate.shape.SequenceEqual([a.shape[0], a.shape[1], n])))
            throw new DebertaInputException($"AttentionProducts.TimesTransposed: a {Shapes.Format(a.shape)}, {b}" +
                                            $"{(accumulate is null ? "" : $" and accumulate {Shapes.Format(accumulate.shape)}")} do not fit.");
    }

    /// <summary>C[g] = A[g]·B[g]: <paramref name="a"/> [G, M, K], <paramref name="b"/> [G, K, N], result [G, M, N].</summary>
    internal static Tensor Times(Tensor a, Tensor b)
    {
        if (b.dim() != 3 || b.shape[0] != a.shape[0] || b.shape[1] != a.shape[2])
            throw new DebertaInputException($"AttentionProducts.Times: a {Shapes.Format(a.shape)} and b {Shapes.Format(b.shape)} do not fit.");
        using var packed = PackColumns(b);
        return Times(a, packed, b.shape[2]);
    }

    /// <summary>
    /// <see cref="Times(Tensor, Tensor)"/> against a right operand packed once by <see cref="PackColumns"/>
    /// (<paramref name="n"/> = its columns).
    /// </summary>
    internal static Tensor Times(Tensor a, Tensor packed, long n)
    {
        long groups = a.shape[0], m = a.shape[1], k = a.shape[2];
        if (!FitsPacked(packed, n, k) || packed.shape[0] != groups)
            throw new DebertaInputException($"AttentionProducts.Times: a {Shapes.Format(a.shape)} and b packed as {Shapes.Format(packed.shape)} for {n} columns do not fit.");
        var c = empty([groups, m, n], dtype: ScalarType.Float32);
        Multiply(a, packed, c, groups, groups, m, n, k, accumulate: false);
        return c;
    }

    /// <summary>B [Gb, N, K] packed for <see cref="TimesTransposed(Tensor, Tensor, long, Tensor?)"/> (the product takes Bᵀ).</summary>
    internal static Tensor PackTransposed(Tensor b) => Pack(b, b.shape[0], b.shape[1], b.shape[2], transposed: true);

    /// <summary>B [G, K, N] packed for <see cref="Times(Tensor, Tensor, long)"/>.</summary>
    internal static Tensor PackColumns(Tensor b) => Pack(b, b.shape[0], b.shape[2], b.shape[1], transposed: false);

    // As Pack makes them at the current lane count: [groups, panels, K, Panel] covering n columns.
    private static bool FitsPacked(Tensor packed, long n, long k) =>
        packed.dim() == 4 && packed.shape[3] == Panel && packed.shape[2] == k && n > 0
        && packed.shape[1] == (n + Panel - 1) / Panel;

    /// <summary>
    /// B in column panels: [Gb, panels, K, Panel], panel p holding columns p·Panel … (p+1)·Panel − 1 for every k,
    /// zero past N. From [Gb, N, K] (<paramref name="transposed"/>: the product takes Bᵀ) or [Gb, K, N].
    /// </summary>
    private static unsafe Tensor Pack(Tensor b, long groups, long n, long k, bool transposed)
    {
        int panel = Panel;
        long panels = (n + panel - 1) / panel;
        var packed = empty([groups, panels, k, panel], dtype: ScalarType.Float32);
        nint src = KernelTasks.Address(b), dst = KernelTasks.Address(packed);
        KernelTasks.Run(groups * panels, task => PackPanel(task, panels, (float*)src, (float*)dst, n, k, panel, transposed));
        GC.KeepAlive(b);
        return packed;
    }

    // The panel's columns are B's rows (transposed) or a run of each row of B. Both ways the panel is written in order;
    // the transposed case moves 8 × 8 tiles through registers (a scalar loop took 0.8 ms of the 2.2 ms q·kᵀ at
    // 96 × 128 × 128 × 64, Xeon family 6 model 207, one thread).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackPanel(long task, long panels, float* src, float* dst, long n, long k, int panel, bool transposed)
    {
        long g = task / panels, p = task % panels, j0 = p * panel;
        int width = (int)Math.Min(panel, n - j0);
        float* o = dst + task * k * panel;
        float* s = src + g * n * k;
        if (transposed)
        {
            // src [N, K]: column j of the panel is row j0 + j of B.
            int fullColumns = Avx.IsSupported ? width & ~7 : 0;
            long fullK = Avx.IsSupported ? k & ~7L : 0;
            for (int j = 0; j < fullColumns; j += 8)
            {
                float* rows = s + (j0 + j) * k;
                for (long kk = 0; kk < fullK; kk += 8)
                    Transpose8(rows + kk, k, o + kk * panel + j, panel);
            }
            for (long kk = 0; kk < k; kk++)
            {
                float* line = o + kk * panel;
                int j = kk < fullK ? fullColumns : 0;
                for (; j < width; j++) line[j] = s[(j0 + j) * k + kk];
                for (; j < panel; j++) line[j] = 0;
            }
        }
        else
        {
            // src [K, N]: the panel's row kk is columns j0 … j0 + width of B's row kk.
            for (long kk = 0; kk < k; kk++, o += panel)
            {
                new ReadOnlySpan<float>(s + kk * n + j0, width).CopyTo(new Span<float>(o, width));
                if (width < panel) new Span<float>(o + width, panel - width).Clear();
            }
        }
    }

    // to[t·toStride + r] = from[r·fromStride + t] for r, t < 8.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose8(float* from, long fromStride, float* to, long toStride)
    {
        var r0 = Avx.LoadVector256(from); var r1 = Avx.LoadVector256(from + fromStride);
        var r2 = Avx.LoadVector256(from + 2 * fromStride); var r3 = Avx.LoadVector256(from + 3 * fromStride);
        var r4 = Avx.LoadVector256(from + 4 * fromStride); var r5 = Avx.LoadVector256(from + 5 * fromStride);
        var r6 = Avx.LoadVector256(from + 6 * fromStride); var r7 = Avx.LoadVector256(from + 7 * fromStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(to, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(to + toStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(to + 2 * toStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(to + 3 * toStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(to + 4 * toStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(to + 5 * toStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(to + 6 * toStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(to + 7 * toStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    private static unsafe void Multiply(Tensor a, Tensor packed, Tensor c, long groups, long bGroups, long m, long n, long k, bool accumulate)
    {
        nint ap = KernelTasks.Address(a), bp = KernelTasks.Address(packed), cp = KernelTasks.Address(c);
        long rowBlocks = (m + RowBlock - 1) / RowBlock;
        int panel = (int)packed.shape[3];                                          // as Pack made them
        long panels = packed.shape[1];
        bool wide = panel == 32;
        KernelTasks.Run(groups * rowBlocks, task =>
        {
            long g = task / rowBlocks, i0 = task % rowBlocks * RowBlock;
            int rows = (int)Math.Min(RowBlock, m - i0);
            float* aBlock = (float*)ap + (g * m + i0) * k;
            float* bGroup = (float*)bp + g % bGroups * panels * k * panel;
            float* cBlock = (float*)cp + (g * m + i0) * n;
            if (wide) Block512(aBlock, bGroup, cBlock, rows, n, k, panels, accumulate);
            else Block256(aBlock, bGroup, cBlock, rows, n, k, panels, accumulate);
        });
        GC.KeepAlive(a);
        GC.KeepAlive(packed);
        GC.KeepAlive(c);
    }

    // One task's rows against every panel: panel outer, so the panel (K × 32 floats) stays in L1 across row blocks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Block512(float* a, float* b, float* c, int rows, long n, long k, long panels, bool accumulate)
    {
        const int panel = 32;
        float* edge = stackalloc float[Rows * panel];
        for (long p = 0; p < panels; p++)
        {
            float* bp = b + p * k * panel;
            long j0 = p * panel;
            int width = (int)Math.Min(panel, n - j0);
            for (int i = 0; i < rows; i += Rows)
            {
                int valid = Math.Min(Rows, rows - i);
                float* a0 = a + i * k;
                // Rows past the end repeat row 0 of the block: computed, never stored.
                float* a1 = valid > 1 ? a0 + k : a0, a2 = valid > 2 ? a0 + 2 * k : a0, a3 = valid > 3 ? a0 + 3 * k : a0;
                float* a4 = valid > 4 ? a0 + 4 * k : a0, a5 = valid > 5 ? a0 + 5 * k : a0, a6 = valid > 6 ? a0 + 6 * k : a0;
                float* a7 = valid > 7 ? a0 + 7 * k : a0;
                Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                    c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
                    c60 = default, c61 = default, c70 = default, c71 = default;
                float* bk = bp;
                for (long kk = 0; kk < k; kk++, bk += panel)
                {
                    var b0 = Vector512.Load(bk);
                    var b1 = Vector512.Load(bk + 16);
                    var x = Vector512.Create(a0[kk]); c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
                    x = Vector512.Create(a1[kk]); c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
                    x = Vector512.Create(a2[kk]); c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
                    x = Vector512.Create(a3[kk]); c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
                    x = Vector512.Create(a4[kk]); c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
                    x = Vector512.Create(a5[kk]); c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
                    x = Vector512.Create(a6[kk]); c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
                    x = Vector512.Create(a7[kk]); c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
                }
                bool full = width == panel;
                float* target = full ? c + i * n + j0 : edge;
                long stride = full ? n : panel;
                if (full && accumulate)
                {
                    // Add the existing values after the sum, as baddbmm does (bias + product).
                    Store512(target, stride, 0, c00 + Vector512.Load(target), c01 + Vector512.Load(target + 16), valid);
                    if (valid > 1) Store512(target, stride, 1, c10 + Vector512.Load(target + stride), c11 + Vector512.Load(target + stride + 16), valid);
                    if (valid > 2) Store512(target, stride, 2, c20 + Vector512.Load(target + 2 * stride), c21 + Vector512.Load(target + 2 * stride + 16), valid);
                    if (valid > 3) Store512(target, stride, 3, c30 + Vector512.Load(target + 3 * stride), c31 + Vector512.Load(target + 3 * stride + 16), valid);
                    if (valid > 4) Store512(target, stride, 4, c40 + Vector512.Load(target + 4 * stride), c41 + Vector512.Load(target + 4 * stride + 16), valid);
                    if (valid > 5) Store512(target, stride, 5, c50 + Vector512.Load(target + 5 * stride), c51 + Vector512.Load(target + 5 * stride + 16), valid);
                    if (valid > 6) Store512(target, stride, 6, c60 + Vector512.Load(target + 6 * stride), c61 + Vector512.Load(target + 6 * stride + 16), valid);
                    if (valid > 7) Store512(target, stride, 7, c70 + Vector512.Load(target + 7 * stride), c71 + Vector512.Load(target + 7 * stride + 16), valid);
                    continue;
                }
                Store512(target, stride, 0, c00, c01, valid);
                Store512(target, stride, 1, c10, c11, valid);
                Store512(target, stride, 2, c20, c21, valid);
                Store512(target, stride, 3, c30, c31, valid);
                Store512(target, stride, 4, c40, c41, valid);
                Store512(target, stride, 5, c50, c51, valid);
                Store512(target, stride, 6, c60, c61, valid);
                Store512(target, stride, 7, c70, c71, valid);
                if (!full) CopyEdge(edge, c + i * n + j0, n, valid, width, accumulate, panel);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store512(float* target, long stride, int row, Vector512<float> left, Vector512<float> right, int valid)
    {
        if (row >= valid) return;
        float* at = target + row * stride;
        left.Store(at);
        right.Store(at + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Block256(float* a, float* b, float* c, int rows, long n, long k, long panels, bool accumulate)
    {
        const int panel = 16;
        float* edge = stackalloc float[Rows * panel];
        for (long p = 0; p < panels; p++)
        {
            float* bp = b + p * k * panel;
            long j0 = p * panel;
            int width = (int)Math.Min(panel, n - j0);
            // Six rows: 12 accumulators, 2 column vectors and the broadcast fit AVX2's 16 registers.
            for (int i = 0; i < rows; i += 6)
            {
                int valid = Math.Min(6, rows - i);
                float* a0 = a + i * k;
                float* a1 = valid > 1 ? a0 + k : a0, a2 = valid > 2 ? a0 + 2 * k : a0, a3 = valid > 3 ? a0 + 3 * k : a0;
                float* a4 = valid > 4 ? a0 + 4 * k : a0, a5 = valid > 5 ? a0 + 5 * k : a0;
                Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                    c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
                float* bk = bp;
                for (long kk = 0; kk < k; kk++, bk += panel)
                {
                    var b0 = Vector256.Load(bk);
                    var b1 = Vector256.Load(bk + 8);
                    var x = Vector256.Create(a0[kk]); c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
                    x = Vector256.Create(a1[kk]); c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
                    x = Vector256.Create(a2[kk]); c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
                    x = Vector256.Create(a3[kk]); c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
                    x = Vector256.Create(a4[kk]); c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
                    x = Vector256.Create(a5[kk]); c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
                }
                c00.Store(edge); c01.Store(edge + 8);
                c10.Store(edge + panel); c11.Store(edge + panel + 8);
                c20.Store(edge + 2 * panel); c21.Store(edge + 2 * panel + 8);
                c30.Store(edge + 3 * panel); c31.Store(edge + 3 * panel + 8);
                c40.Store(edge + 4 * panel); c41.Store(edge + 4 * panel + 8);
                c50.Store(edge + 5 * panel); c51.Store(edge + 5 * panel + 8);
                CopyEdge(edge, c + i * n + j0, n, valid, width, accumulate, panel);
            }
        }
    }

    // A register block written through the stack: the last panel's columns past N, and the AVX2 kernel.
    private static unsafe void CopyEdge(float* edge, float* c, long n, int rows, int width, bool accumulate, int panel)
    {
        for (int r = 0; r < rows; r++)
        {
            float* from = edge + r * panel;
            float* to = c + r * n;
            if (accumulate) for (int j = 0; j < width; j++) to[j] = from[j] + to[j];
            else for (int j = 0; j < width; j++) to[j] = from[j];
        }
    }
}
