using System.CommandLine;
using System.Diagnostics;
using DebertaSharp.Checkpoints;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Benchmarks;

/// <summary>
/// <c>peer</c>: DebertaSharp against ONNX Runtime running HF's own ONNX export of the same weights (the forward a .NET
/// developer would otherwise run), in one process, interleaved (DebertaSharp, ORT, DebertaSharp, ORT …) on the same
/// inputs and thread count. Both are first checked against HF's stored eager output (or, for shapes without one,
/// against each other); the ratio is the median of the per-pair ratios DebertaSharp / ORT.
/// </summary>
internal static class PeerBenchmark
{
    private const string DefaultBundle = "../shared/peer/deberta-v3-base-1layer";

    public static Command Create()
    {
        var bundle = new Option<DirectoryInfo>("--bundle") { Description = "Folder with config.json, model.safetensors, model.onnx and inputs-BxL.safetensors.", DefaultValueFactory = _ => new DirectoryInfo(DefaultBundle) };
        var shapes = new Option<string>("--shapes") { Description = "Shapes; those without an inputs-BxL file get random ids (seed 3).", DefaultValueFactory = _ => "8x128,1x512,1x2048" };
        var threads = new Option<string>("--threads") { Description = "Intra-op thread counts, both engines.", DefaultValueFactory = _ => "1,2" };
        var rounds = new Option<int>("--rounds") { Description = "Interleaved pairs per shape and thread count (median reported).", DefaultValueFactory = _ => 7 };
        var optimized = new Option<FileInfo?>("--save-optimized") { Description = "Write ORT's optimised graph (ORT_ENABLE_ALL) to this file." };
        var bf16 = new Option<bool>("--bf16") { Description = "Also time DebertaSharp in bfloat16 against float32 (interleaved), per shape and thread count." };
        var profile = new Option<bool>("--profile") { Description = "Also time each stage of DebertaSharp's forward (median over --rounds passes), per shape and thread count." };
        var kernel = new Option<DenseKernel>("--dense-kernel") { Description = "Dense-layer kernel of DebertaSharp's float32 inference: Auto (measured per shape), Torch (libtorch linear) or OneDnn.", DefaultValueFactory = _ => DenseKernel.Auto };
        var kernels = new Option<bool>("--kernels") { Description = "Also time the layer's dense products alone, libtorch linear against oneDNN (interleaved), and DebertaSharp with libtorch linear forced against the chosen kernel." };
        var heap = new Option<NativeHeapPolicy>("--native-heap") { Description = "C-heap policy for the run (NativeHeap). Retain (default here): a one-layer forward then reuses its freed memory as every layer after the first does within a 12-layer forward, so per-layer ratios carry over; System: glibc untouched (the library's default), which makes the one-layer bundle fault its tensors in on every pass. Compare them in separate processes.", DefaultValueFactory = _ => NativeHeapPolicy.Retain };
        var biasKernel = new Option<bool>("--bias-kernel") { Description = "Also time DebertaSharp with the managed c2p + p2c bias pass (PositionBiasKernel) against libtorch's gathers and add, interleaved in one process." };
        var noFreeze = new Option<bool>("--no-freeze") { Description = "Time DebertaSharp without FreezeForInference (by default the model is frozen, as ORT's session prepacks its weights at creation)." };
        var noOrtArena = new Option<bool>("--no-ort-arena") { Description = "Run ORT without its CPU memory arena (EnableCpuMemArena = false). Its arena shares the C heap with libtorch's tensors: at 1×2048 some processes then ran DebertaSharp's chunked forward ~2× slower; without it DebertaSharp never did, and ORT itself is slower." };
        var freezeComparison = new Option<bool>("--freeze-comparison") { Description = "Also time DebertaSharp frozen (FreezeForInference: prepacked dense weights) against not frozen, interleaved in one process." };
        var cmd = new Command("peer", "DebertaSharp vs ONNX Runtime on HF's ONNX export, interleaved, with parity checks.") { bundle, shapes, threads, rounds, optimized, bf16, kernel, kernels, profile, heap, biasKernel, noFreeze, freezeComparison, noOrtArena };
        cmd.SetAction(parse =>
        {
            var threadCounts = parse.GetValue(threads)!.Split(',').Select(int.Parse).ToList();
            DenseKernels.Kernel = parse.GetValue(kernel);
            NativeHeap.Apply(parse.GetValue(heap));
            Run(parse.GetValue(bundle)!.FullName, DebertaSharp.Cli.Commands.BenchSubject.ParseShapes(parse.GetValue(shapes)!),
                threadCounts, parse.GetValue(rounds), parse.GetValue(optimized)?.FullName, parse.GetValue(bf16), parse.GetValue(kernels), parse.GetValue(profile), parse.GetValue(biasKernel),
                !parse.GetValue(noFreeze), parse.GetValue(freezeComparison), !parse.GetValue(noOrtArena));
            return 0;
        });
        return cmd;
    }

    private static void Run(string bundle, List<(long Batch, long Length)> shapes, List<int> threadCounts, int rounds, string? optimizedPath, bool bf16, bool kernels,
        bool profile, bool biasKernel, bool freeze, bool freezeComparison, bool ortArena)
    {
        if (threadCounts.Count == 0 || threadCounts.Any(t => t < 1)) throw new DebertaSharpException("--threads needs positive counts, e.g. 1,2.");
        if (rounds < 1) throw new DebertaSharpException($"--rounds must be at least 1, got {rounds}.");
        string onnxPath = Path.Combine(bundle, "model.onnx");
        if (!File.Exists(onnxPath)) throw new DebertaSharpException($"No model.onnx in {bundle}.");
        torch.set_num_interop_threads(1);        // nothing here runs ops concurrently; keep inter-op pools from competing

        Console.WriteLine($"# DebertaSharp vs ONNX Runtime: {bundle}");
        Console.WriteLine();
        Console.WriteLine($"CPU: {CpuInfo.Describe()}");
        Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, ONNX Runtime {typeof(InferenceSession).Assembly.GetName().Version} (CPU EP, ORT_ENABLE_ALL, " +
                          $"sequential, inter-op 1, allow_spinning 0, memory arena {(ortArena ? "on" : "off")}); load average at start {CpuInfo.LoadAverage()}.");
        Console.WriteLine($"Interleaved pairs (DebertaSharp, ORT) per row: {rounds} after one warm-up pair; ratio = median of per-pair ratios; float32; " +
                          $"dense kernel policy {DenseKernels.Kernel} (Auto's per-shape choices are listed below the table); " +
                          $"native heap {NativeHeap.Describe()}; DebertaSharp {(freeze ? "frozen (FreezeForInference: dense weights prepacked)" : "not frozen (--no-freeze)")}.");
        Console.WriteLine();

        using var model = DebertaModel.FromPretrained(bundle);
        model.eval();
        if (freeze) model.FreezeForInference();
        var sessions = threadCounts.Distinct().ToDictionary(t => t, t => OpenSession(onnxPath, t, t == threadCounts[0] ? optimizedPath : null, ortArena));
        try
        {
            Console.WriteLine("| shape | threads | DebertaSharp (ms) | ORT (ms) | DebertaSharp / ORT | max abs diff DS vs ref | ORT vs ref | reference | DebertaSharp first forward (ms) |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
            foreach (var (b, l) in shapes)
            {
                var (ids, mask, expected) = Inputs(bundle, b, l);
                long[] idData = ids.data<long>().ToArray(), maskData = mask.data<long>().ToArray();
                var inputs = new DebertaInputs(ids) { AttentionMask = mask };
                foreach (int t in threadCounts)
                {
                    torch.set_num_threads(t);
                    var session = sessions[t];
                    long firstStart = Stopwatch.GetTimestamp();
                    float[] dsOut = DebertaSharpForward(model, inputs);          // Auto measures the dense kernels of new shapes here
                    double firstMs = Stopwatch.GetElapsedTime(firstStart).TotalMilliseconds;
                    float[] ortOut = OrtForward(session, idData, maskData, b, l);
                    float[] reference = expected ?? ortOut;
                    double dsDiff = MaxAbsDiff(dsOut, reference), ortDiff = expected is null ? double.NaN : MaxAbsDiff(ortOut, reference);
                    double tolerance = 1e-5 * Math.Max(1, reference.Max(Math.Abs));
                    string refName = expected is null ? "ORT (no stored HF output)" : "HF eager (stored)";
                    if (dsDiff > tolerance * 4 || ortDiff > tolerance * 4)
                        throw new DebertaSharpException($"{b}x{l}: outputs differ (DebertaSharp {dsDiff:E2}, ORT {ortDiff:E2} vs {refName}); not timing.");
                    var timings = PairedTimings.Run(
                        () => { torch.set_num_threads(t); return Time(() => model.Forward(inputs).Dispose()); },
                        () => Time(() => OrtForward(session, idData, maskData, b, l)),
                        rounds);
                    Console.WriteLine($"| {b}×{l} | {t} | {timings.MedianA:F1} | {timings.MedianB:F1} | {timings.MedianRatio:F3} | {dsDiff:E2} | " +
                                      $"{(double.IsNaN(ortDiff) ? "—" : ortDiff.ToString("E2"))} | {refName} | {firstMs:F1} |");
                }
                ids.Dispose();
                mask.Dispose();
            }
            Console.WriteLine();
            Console.WriteLine(DenseKernels.Describe());
            Console.WriteLine();
        }
        finally
        {
            foreach (var s in sessions.Values) s.Dispose();
        }
        if (kernels) KernelComparison(bundle, model, shapes, threadCounts, rounds);
        if (biasKernel) BiasKernelComparison(bundle, model, shapes, threadCounts, rounds);
        if (freezeComparison)
        {
            Console.WriteLine();
            AlternatedForwards(bundle, model, shapes, threadCounts, rounds, "not frozen", "frozen",
                frozen => { if (frozen) model.FreezeForInference(); else model.Unfreeze(); },
                () => { if (freeze) model.FreezeForInference(); else model.Unfreeze(); });
        }
        if (profile) Profile(bundle, model, shapes, threadCounts, rounds);
        if (bf16) Bf16AgainstFloat32(bundle, model, shapes, threadCounts, rounds);
        Console.WriteLine($"Load average at end {CpuInfo.LoadAverage()}.");
    }

    /// <summary>DebertaSharp bfloat16 against float32 on the same inputs, interleaved: whether bf16 pays on this CPU.</summary>
    private static void Bf16AgainstFloat32(string bundle, DebertaModel fp32, List<(long Batch, long Length)> shapes, List<int> threadCounts, int rounds)
    {
        using var half = DebertaModel.FromPretrained(bundle, dtype: ScalarType.BFloat16);
        half.eval();
        Console.WriteLine("| shape | threads | DebertaSharp float32 (ms) | DebertaSharp bfloat16 (ms) | bfloat16 / float32 | max abs diff bf16 vs fp32 |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (b, l) in shapes)
        {
            var (ids, mask, _) = Inputs(bundle, b, l);
            var inputs = new DebertaInputs(ids) { AttentionMask = mask };
            foreach (int t in threadCounts)
            {
                torch.set_num_threads(t);
                float[] reference = DebertaSharpForward(fp32, inputs), low;
                using (var inference = inference_mode())
                using (var output = half.Forward(inputs))
                    low = output.LastHiddenState.to(ScalarType.Float32).data<float>().ToArray();
                var timings = PairedTimings.Run(
                    () => { torch.set_num_threads(t); return Time(() => fp32.Forward(inputs).Dispose()); },
                    () => { torch.set_num_threads(t); return Time(() => half.Forward(inputs).Dispose()); },
                    rounds);
                Console.WriteLine($"| {b}×{l} | {t} | {timings.MedianA:F1} | {timings.MedianB:F1} | {1 / timings.MedianRatio:F3} | {MaxAbsDiff(low, reference):E2} |");
            }
            ids.Dispose();
            mask.Dispose();
        }
        Console.WriteLine();
    }

    /// <summary>
    /// Per-stage times of DebertaSharp's forward (<see cref="ForwardProfile"/> marks in the model's code) on the bundle's
    /// inputs: one warm-up pass, then the median of <paramref name="rounds"/> passes per stage, summed over layers and chunks.
    /// </summary>
    private static void Profile(string bundle, DebertaModel model, List<(long Batch, long Length)> shapes, List<int> threadCounts, int rounds)
    {
        Console.WriteLine($"Stages of DebertaSharp's forward, median ms of {rounds} passes after one warm-up (summed over layers and chunks):");
        Console.WriteLine();
        var columns = new List<(string Name, Dictionary<string, double> Medians)>();
        var order = new List<string>();
        foreach (var (b, l) in shapes)
        {
            var (ids, mask, _) = Inputs(bundle, b, l);
            var inputs = new DebertaInputs(ids) { AttentionMask = mask };
            foreach (int t in threadCounts)
            {
                torch.set_num_threads(t);
                var samples = new Dictionary<string, List<double>>();
                using (var inference = inference_mode())
                using (var recording = ForwardProfile.Start())
                {
                    for (int pass = -1; pass < rounds; pass++)
                    {
                        recording.Reset();
                        model.Forward(inputs).Dispose();
                        ForwardProfile.Mark("outputs, dispose");
                        if (pass < 0) continue;
                        foreach (var (stage, ms, _) in recording.Stages)
                        {
                            if (!samples.TryGetValue(stage, out var list)) samples[stage] = list = [];
                            list.Add(ms);
                            if (!order.Contains(stage)) order.Add(stage);
                        }
                    }
                }
                var medians = samples.ToDictionary(p => p.Key, p => PairedTimings.Median(p.Value));
                medians["total"] = PairedTimings.Median(Enumerable.Range(0, rounds).Select(i => samples.Values.Sum(v => i < v.Count ? v[i] : 0)).ToList());
                columns.Add(($"{b}×{l} {t}T", medians));
            }
            ids.Dispose();
            mask.Dispose();
        }
        order.Add("total");
        Console.WriteLine($"| stage | {string.Join(" | ", columns.Select(c => c.Name))} |");
        Console.WriteLine($"| --- |{string.Concat(columns.Select(_ => " ---: |"))}");
        foreach (var stage in order)
            Console.WriteLine($"| {stage} | {string.Join(" | ", columns.Select(c => c.Medians.TryGetValue(stage, out var ms) ? ms.ToString("F2") : "—"))} |");
        Console.WriteLine();
    }

    /// <summary>
    /// The layer's dense products alone (libtorch linear against oneDNN, interleaved, on the shapes the model runs), then
    /// the whole DebertaSharp forward with libtorch linear forced against the policy given (what the kernel choice buys).
    /// </summary>
    private static void KernelComparison(string bundle, DebertaModel model, List<(long Batch, long Length)> shapes, List<int> threadCounts, int rounds)
    {
        long hidden = model.Config.HiddenSize, intermediate = model.Config.IntermediateSize;
        var policy = DenseKernels.Kernel;
        Console.WriteLine("| rows × in → out | threads | libtorch linear (ms) | oneDNN (ms) | oneDNN / linear | linear GFLOP/s | oneDNN GFLOP/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (long rows in shapes.Select(s => s.Batch * s.Length).Distinct())
        foreach (var (inF, outF) in new[] { (hidden, hidden), (hidden, intermediate), (intermediate, hidden) })
        foreach (int t in threadCounts)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(5);
            var x = randn([rows, inF], generator: generator);
            var w = randn([outF, inF], generator: generator) / Math.Sqrt(inF);
            var b = randn([outF], generator: generator);
            const int Repeats = 5;
            double TimeRepeated(Func<Tensor> product)
            {
                torch.set_num_threads(t);
                return Time(() => { for (int i = 0; i < Repeats; i++) product().Dispose(); }) / Repeats;
            }
            var timings = PairedTimings.Run(() => TimeRepeated(() => nn.functional.linear(x, w, b)), () => TimeRepeated(() => DenseKernels.OneDnn(x, w, b)), rounds);
            double gflop = 2.0 * rows * inF * outF / 1e9;
            Console.WriteLine($"| {rows} × {inF} → {outF} | {t} | {timings.MedianA:F2} | {timings.MedianB:F2} | {1 / timings.MedianRatio:F3} | " +
                              $"{gflop / timings.MedianA * 1e3:F0} | {gflop / timings.MedianB * 1e3:F0} |");
        }
        Console.WriteLine();
        AlternatedForwards(bundle, model, shapes, threadCounts, rounds, "libtorch linear", policy.ToString(),
            second => DenseKernels.Kernel = second ? policy : DenseKernel.Torch, () => DenseKernels.Kernel = policy);
    }

    /// <summary>
    /// The whole DebertaSharp forward under two settings (<paramref name="select"/>(false) = <paramref name="first"/>,
    /// (true) = <paramref name="second"/>), interleaved per shape and thread count; <paramref name="restore"/> afterwards.
    /// </summary>
    private static void AlternatedForwards(string bundle, DebertaModel model, List<(long Batch, long Length)> shapes, List<int> threadCounts, int rounds,
        string first, string second, Action<bool> select, Action restore)
    {
        Console.WriteLine($"| shape | threads | DebertaSharp, {first} (ms) | DebertaSharp, {second} (ms) | {second} / {first} |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        try
        {
            foreach (var (b, l) in shapes)
            {
                var (ids, mask, _) = Inputs(bundle, b, l);
                var inputs = new DebertaInputs(ids) { AttentionMask = mask };
                foreach (int t in threadCounts)
                {
                    double Forward(bool useSecond)
                    {
                        torch.set_num_threads(t);
                        select(useSecond);
                        return Time(() => model.Forward(inputs).Dispose());
                    }
                    var timings = PairedTimings.Run(() => Forward(false), () => Forward(true), rounds);
                    Console.WriteLine($"| {b}×{l} | {t} | {timings.MedianA:F1} | {timings.MedianB:F1} | {1 / timings.MedianRatio:F3} |");
                }
                ids.Dispose();
                mask.Dispose();
            }
        }
        finally
        {
            restore();
        }
        Console.WriteLine();
    }

    /// <summary>DebertaSharp with libtorch's gathers and add for the position bias against the managed pass, interleaved.</summary>
    private static void BiasKernelComparison(string bundle, DebertaModel model, List<(long Batch, long Length)> shapes, List<int> threadCounts, int rounds) =>
        AlternatedForwards(bundle, model, shapes, threadCounts, rounds, "libtorch bias", "managed bias pass",
            managed => PositionBiasKernel.Enabled = managed, () => PositionBiasKernel.Enabled = true);

    private static InferenceSession OpenSession(string path, int threads, string? optimizedPath, bool ortArena)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, EnableCpuMemArena = ortArena,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");     // no busy-waiting between interleaved runs
        if (optimizedPath is not null) options.OptimizedModelFilePath = optimizedPath;
        return new InferenceSession(path, options);
    }

    /// <summary>input_ids, attention_mask and HF's last_hidden_state from inputs-BxL.safetensors, or random ids and no reference.</summary>
    private static (Tensor Ids, Tensor Mask, float[]? Expected) Inputs(string bundle, long b, long l)
    {
        string file = Path.Combine(bundle, $"inputs-{b}x{l}.safetensors");
        if (File.Exists(file))
        {
            using var st = SafetensorsFile.Open(file);
            using var hidden = st.Read("last_hidden_state");
            return (st.Read("input_ids"), st.Read("attention_mask"), hidden.data<float>().ToArray());
        }
        var generator = new Generator(3);
        var ids = randint(5, 1000, [b, l], dtype: ScalarType.Int64, generator: generator);
        return (ids, ones_like(ids), null);
    }

    private static float[] DebertaSharpForward(DebertaModel model, DebertaInputs inputs)
    {
        using var inference = inference_mode();
        using var output = model.Forward(inputs);
        return output.LastHiddenState.data<float>().ToArray();
    }

    private static float[] OrtForward(InferenceSession session, long[] ids, long[] mask, long b, long l)
    {
        long[] shape = [b, l];
        using var idValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["input_ids", "attention_mask"], [idValue, maskValue], ["last_hidden_state"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double Time(Action action)
    {
        using var inference = inference_mode();
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new DebertaSharpException($"Output sizes differ: {a.Length} vs {b.Length}.");
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }

}
