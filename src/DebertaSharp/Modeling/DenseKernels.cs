using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>The matrix-product kernel of the model's float32 dense layers in CPU inference.</summary>
public enum DenseKernel
{
    /// <summary>
    /// Measured per shape (default): the first call of each (row bucket, in, out, bias, thread count) times both
    /// kernels on its real operands and the faster is kept for the rest of the process.
    /// </summary>
    Auto,

    /// <summary>libtorch's <c>linear</c> (oneMKL's SGEMM on x86-64): what training and every other case use.</summary>
    Torch,

    /// <summary>
    /// oneDNN's inner product on the dense operands (libtorch's <c>mkldnn::_linear_pointwise</c>, the operator PyTorch's
    /// CPU compiler uses), which dispatches on the CPU's ISA flags; on CPUs other than x86-64 libtorch's <c>linear</c>.
    /// </summary>
    OneDnn,
}

/// <summary>One measured kernel choice of <see cref="DenseKernel.Auto"/>.</summary>
/// <param name="RowBucket">Rows of the product (all leading dimensions of the input), rounded up to a power of two.</param>
/// <param name="InFeatures">Input features (the weight's columns).</param>
/// <param name="OutFeatures">Output features (the weight's rows).</param>
/// <param name="HasBias">Whether the layer adds a bias.</param>
/// <param name="Gelu">Whether the exact GELU follows the product (fused into oneDNN's pass; a separate op after libtorch's).</param>
/// <param name="Prepacked">Whether oneDNN read the weight prepacked (the model frozen by <see cref="DebertaPreTrainedModel.FreezeForInference"/>).</param>
/// <param name="Threads">torch's intra-op thread count when measured.</param>
/// <param name="Kernel">The kernel kept (<see cref="DenseKernel.Torch"/> or <see cref="DenseKernel.OneDnn"/>).</param>
/// <param name="TorchMilliseconds">Best time of one libtorch <c>linear</c> call.</param>
/// <param name="OneDnnMilliseconds">Best time of one oneDNN call (with the fused GELU where <paramref name="Gelu"/>).</param>
public sealed record DenseKernelChoice(long RowBucket, long InFeatures, long OutFeatures, bool HasBias, bool Gelu, bool Prepacked, int Threads,
    DenseKernel Kernel, double TorchMilliseconds, double OneDnnMilliseconds);

/// <summary>
/// Chooses how float32 dense layers multiply in CPU inference (autograd off: <c>no_grad</c> or <c>inference_mode</c>).
/// libtorch's <c>linear</c> goes to oneMKL's SGEMM, which on AMD CPUs does not use AVX-512 at full width; oneDNN's
/// inner product dispatches on the ISA flags and measured about 2× faster on a Zen 5 core (190–215 against 88–97
/// GFLOP/s at deberta-v3-base's shapes), but CPUs differ, so the choice is measured by the library on the machine it
/// runs on (<see cref="DenseKernel.Auto"/>) rather than fixed. Training, autograd, other dtypes, other devices and
/// CPUs other than x86-64 always use libtorch's <c>linear</c>.
/// </summary>
/// <remarks>
/// Process-wide. Under <see cref="DenseKernel.Auto"/>, the first call of a shape runs each kernel once untimed (first
/// allocation, oneDNN's primitive creation) and <see cref="SamplesPerKernel"/> times timed, alternating, and keeps the
/// kernel with the lower best time and returns that kernel's result: <see cref="SamplesPerKernel"/>·2 + 1 extra products
/// once per shape, and every call of a shape, the first included, uses the same kernel, so outputs repeat bit for bit
/// within a process. Another process (or another load) may choose differently; force a kernel with <see cref="Kernel"/>
/// for the same bits everywhere.
/// </remarks>
public static class DenseKernels
{
    /// <summary>Timed calls per kernel before a shape's choice is made.</summary>
    public const int SamplesPerKernel = 2;

    private static readonly Lock MeasureGate = new();                             // one measurement at a time, so they do not time each other
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Key, DenseKernelChoice> Chosen = new();
    private static DenseKernel _kernel = DenseKernel.Auto;

    /// <summary>The kernel policy (default <see cref="DenseKernel.Auto"/>). Setting it does not forget measured choices.</summary>
    /// <exception cref="DebertaConfigurationException">The value is not a defined <see cref="DenseKernel"/>.</exception>
    public static DenseKernel Kernel
    {
        get => _kernel;
        set
        {
            if (!Enum.IsDefined(value))
                throw new DebertaConfigurationException($"DenseKernels.Kernel has the undefined value {(int)value}.");
            _kernel = value;
        }
    }

    /// <summary>The choices <see cref="DenseKernel.Auto"/> has made in this process so far.</summary>
    public static IReadOnlyList<DenseKernelChoice> Choices
    {
        get => [.. Chosen.Values];
    }

    /// <summary>Forgets every measured choice (e.g. after the machine's load changed); the next calls measure again.</summary>
    public static void ResetChoices()
    {
        lock (MeasureGate) Chosen.Clear();
    }

    /// <summary>Records <paramref name="kernel"/> as the choice for a shape as if measured (tests).</summary>
    internal static void SetChoice(long rows, long inFeatures, long outFeatures, bool hasBias, bool gelu, int threads, DenseKernel kernel)
    {
        var key = new Key(RowBucket(rows), inFeatures, outFeatures, hasBias, gelu, false, threads);
        lock (MeasureGate) Chosen[key] = new DenseKernelChoice(key.RowBucket, inFeatures, outFeatures, hasBias, gelu, false, threads, kernel, double.NaN, double.NaN);
    }

    /// <summary>A short description of the policy and the choices made, for benchmark reports.</summary>
    public static string Describe()
    {
        var choices = Choices;
        if (Kernel != DenseKernel.Auto) return $"dense kernel forced: {Kernel}";
        if (choices.Count == 0) return "dense kernel: Auto (no float32 CPU inference product measured yet)";
        var parts = choices.OrderBy(c => c.Threads).ThenBy(c => c.RowBucket).ThenBy(c => c.InFeatures).ThenBy(c => c.OutFeatures)
            .Select(c => $"{c.RowBucket}×{c.InFeatures}→{c.OutFeatures}{(c.HasBias ? "" : " (no bias)")}{(c.Gelu ? " + gelu" : "")}{(c.Prepacked ? " prepacked" : "")} {c.Threads}T: {c.Kernel} " +
                         $"(oneDNN/torch {c.OneDnnMilliseconds / c.TorchMilliseconds:F2})");
        return "dense kernel: Auto — " + string.Join("; ", parts);
    }

    /// <summary>
    /// Calls of oneDNN's inner product in this process: tests tell the kernels apart by it, since on some CPUs the two
    /// kernels round a product identically.
    /// </summary>
    internal static long OneDnnCalls => Interlocked.Read(ref _oneDnnCalls);

    private static long _oneDnnCalls;

    /// <summary>Whether the call takes this class's path: float32 on the CPU, autograd off, a 2-D weight, rows present.</summary>
    internal static bool Applies(Tensor x, Tensor weight, Tensor? bias) =>
        _kernel != DenseKernel.Torch && OneDnnOps.IsAvailable && !is_grad_enabled()
        && x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && (bias is null || bias.dtype == ScalarType.Float32)
        && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU && (bias is null || bias.device_type == DeviceType.CPU)
        && weight.dim() == 2 && x.dim() >= 1 && x.shape[^1] == weight.shape[1] && x.numel() > 0 && weight.numel() > 0;

    /// <summary>
    /// x·Wᵀ + b, then the exact GELU if <paramref name="gelu"/>, with the kernel chosen for this shape; call only where
    /// <see cref="Applies"/> holds.
    /// </summary>
    internal static Tensor Linear(Tensor x, Tensor weight, Tensor? bias, bool gelu = false)
    {
        var packed = FrozenWeights.Of(weight);
        if (_kernel == DenseKernel.OneDnn) return OneDnnChecked(x, weight, bias, gelu, packed);
        int threads = get_num_threads();
        var key = new Key(RowBucket(x.numel() / x.shape[^1]), weight.shape[1], weight.shape[0], bias is not null, gelu, packed is not null, threads);
        if (!Chosen.TryGetValue(key, out var choice))
        {
            lock (MeasureGate)
            {
                if (!Chosen.TryGetValue(key, out choice))
                {
                    var (measured, result) = Measure(key, x, weight, packed, bias);
                    Chosen[key] = measured;
                    return result;
                }
            }
        }
        return Run(choice.Kernel, x, weight, packed, bias, gelu);
    }

    // oneDNN reads the packed weight where the model is frozen; libtorch always the parameter.
    private static Tensor Run(DenseKernel kernel, Tensor x, Tensor weight, Tensor? packed, Tensor? bias, bool gelu)
    {
        if (kernel == DenseKernel.OneDnn) return OneDnnChecked(x, weight, bias, gelu, packed);
        if (!gelu) return nn.functional.linear(x, weight, bias);
        using var product = nn.functional.linear(x, weight, bias);
        return nn.functional.gelu(product);
    }

    /// <summary>Times both kernels on the real operands (alternating, first of each untimed); returns the choice and the chosen kernel's result.</summary>
    private static (DenseKernelChoice Choice, Tensor Result) Measure(Key key, Tensor x, Tensor weight, Tensor? packed, Tensor? bias)
    {
        double torchBest = double.PositiveInfinity, oneDnnBest = double.PositiveInfinity;
        Tensor? torchResult = null, oneDnnResult = null;
        for (int i = 0; i <= SamplesPerKernel; i++)
        {
            foreach (var kernel in new[] { DenseKernel.Torch, DenseKernel.OneDnn })
            {
                long start = Stopwatch.GetTimestamp();
                var result = Run(kernel, x, weight, packed, bias, key.Gelu);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (kernel == DenseKernel.Torch)
                {
                    torchResult?.Dispose();
                    torchResult = result;
                    if (i > 0) torchBest = Math.Min(torchBest, ms);
                }
                else
                {
                    oneDnnResult?.Dispose();
                    oneDnnResult = result;
                    if (i > 0) oneDnnBest = Math.Min(oneDnnBest, ms);
                }
            }
        }
        var chosen = oneDnnBest < torchBest ? DenseKernel.OneDnn : DenseKernel.Torch;
        (chosen == DenseKernel.OneDnn ? torchResult : oneDnnResult)!.Dispose();
        return (new DenseKernelChoice(key.RowBucket, key.In, key.Out, key.HasBias, key.Gelu, key.Packed, key.Threads, chosen, torchBest, oneDnnBest),
                chosen == DenseKernel.OneDnn ? oneDnnResult! : torchResult!);
    }

    /// <summary>
    /// oneDNN's inner product x·Wᵀ + b, whatever <see cref="Kernel"/> says (benchmarks and checks): <paramref name="x"/>
    /// [..., in] is flattened to [rows, in] and the result reshaped to [..., out]. Does not record autograd history.
    /// </summary>
    /// <param name="x">float32 CPU input [..., in].</param>
    /// <param name="weight">float32 CPU weight [out, in].</param>
    /// <param name="bias">float32 CPU bias [out], or <c>null</c>.</param>
    /// <returns>[..., out], in the caller's dispose scope.</returns>
    /// <exception cref="DebertaInputException">A tensor is not float32 on the CPU, or the shapes do not fit (the message says which).</exception>
    /// <exception cref="PlatformNotSupportedException">The process is not x86-64, where libtorch's oneDNN operators are used.</exception>
    public static Tensor OneDnn(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!OneDnnOps.IsAvailable)
            throw new PlatformNotSupportedException($"DenseKernels.OneDnn runs on x86-64 only; this process is {RuntimeInformation.ProcessArchitecture}.");
        foreach (var (name, t) in new[] { ("x", x), ("weight", weight), ("bias", bias) })
            if (t is not null && (t.dtype != ScalarType.Float32 || t.device_type != DeviceType.CPU))
                throw new DebertaInputException($"DenseKernels.OneDnn takes float32 CPU tensors; {name} is {t.dtype} on {t.device}.");
        if (weight.dim() != 2 || x.dim() < 1 || x.shape[^1] != weight.shape[1] || (bias is not null && (bias.dim() != 1 || bias.shape[0] != weight.shape[0])))
            throw new DebertaInputException($"DenseKernels.OneDnn: x {Shapes.Format(x.shape)}, weight {Shapes.Format(weight.shape)} and " +
                                            $"bias {(bias is null ? "[none]" : Shapes.Format(bias.shape))} do not fit x·weightᵀ + bias.");
        using var _ = no_grad();
        return OneDnnChecked(x, weight, bias, gelu: false);
    }

    // The product itself, for callers that have checked the operands (Linear's callers through Applies).
    private static Tensor OneDnnChecked(Tensor x, Tensor weight, Tensor? bias, bool gelu, Tensor? packed = null)
    {
        Interlocked.Increment(ref _oneDnnCalls);
        using var scope = NewDisposeScope();
        long[] outShape = [.. x.shape[..^1], weight.shape[0]];
        var rows = x.reshape(-1, x.shape[^1]).contiguous();                        // [rows, in]
        var y = OneDnnOps.Linear(rows, packed ?? weight.contiguous(), bias?.contiguous(), gelu);   // [rows, out]
        return y.reshape(outShape).MoveToOuterDisposeScope();
    }

    private static long RowBucket(long rows) => rows <= 1 ? 1 : 1L << (int)(64 - long.LeadingZeroCount(rows - 1));

    private readonly record struct Key(long RowBucket, long In, long Out, bool HasBias, bool Gelu, bool Packed, int Threads);
}
