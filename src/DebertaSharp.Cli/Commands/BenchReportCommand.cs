using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// <c>deberta bench report</c>: every figure of the performance table in one run, as Markdown. Timings are medians of
/// alternated pairs in this process; memory figures come from fresh child processes (<c>bench memory|train|load</c>).
/// </summary>
internal static class BenchReportCommand
{
    public static Command Create()
    {
        var shapes = new Option<string>("--shapes") { Description = "Forward shapes.", DefaultValueFactory = _ => ModelBenchCommands.DefaultShapes };
        var pairs = new Option<int>("--pairs") { Description = "Alternated pairs per figure (long shapes use a third, at least 3).", DefaultValueFactory = _ => 9 };
        var fixture = new Option<DirectoryInfo?>("--fixture") { Description = "Masked-LM checkpoint + inputs.safetensors for the half-precision agreement (default: the test fixture, when run from the repository)." };
        var tokenizer = new Option<DirectoryInfo?>("--tokenizer") { Description = "Tokenizer folder for throughput (default: --model, else the test fixture)." };
        var cmd = new Command("report", "The whole performance table: forward vs GEMM floor, reference vs fast, bf16, memory of long inputs, training with and without checkpointing, loading, tokenizer.") { shapes, pairs, fixture, tokenizer };
        BenchSubject.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var subject = BenchSubject.From(parse);
            int n = parse.GetValue(pairs);
            if (n < 1) throw new DebertaSharpException($"--pairs must be at least 1, got {n}.");
            var shapeList = BenchSubject.ParseShapes(parse.GetValue(shapes)!);
            string? fixtureDir = parse.GetValue(fixture)?.FullName ?? Existing(Path.Combine("tests", "DebertaSharp.Tests", "Fixtures", "precision-mlm"));
            string? tokenizerDir = parse.GetValue(tokenizer)?.FullName ?? subject.Folder ?? Existing(Path.Combine("tests", "DebertaSharp.Tests", "Fixtures", "tokenizer-v3"));
            Run(subject, shapeList, n, fixtureDir, tokenizerDir);
            return 0;
        }));
        return cmd;
    }

    private static string? Existing(string path) => Directory.Exists(path) ? Path.GetFullPath(path) : null;

    private static void Run(BenchSubject subject, List<(long Batch, long Length)> shapes, int pairs, string? fixture, string? tokenizerFolder)
    {
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"# DebertaSharp performance: {subject.Description}");
        Console.WriteLine();
        Console.WriteLine($"CPU: {CpuInfo.Describe()}; torch threads {subject.Threads}, libtorch via TorchSharp {typeof(torch).Assembly.GetName().Version}; load average at start {CpuInfo.LoadAverage()}.");
        Console.WriteLine($"Timings: medians of alternated pairs (A B A B …) in one process, ratio = median of per-pair ratios. Memory: peak resident set (VmHWM) of a fresh child process.");
        Console.WriteLine();

        // 1. Forward against the GEMM floor, fast and reference attention.
        Console.WriteLine("## Forward pass against the GEMM floor (float32)");
        Console.WriteLine();
        ModelBenchCommands.PrintFloorHeader();
        using (var model = subject.BuildEncoder(ScalarType.Float32))
        {
            foreach (var (b, l) in shapes)
            {
                model.AttentionOptions = new AttentionOptions();
                int n = b * l > 1024 ? Math.Max(3, pairs / 3) : pairs;
                ModelBenchCommands.PrintFloorRow(ModelBenchCommands.ForwardVersusFloor(subject, model, b, l, n), "fast", ScalarType.Float32);
                if (b * l <= 1024)
                {
                    model.AttentionOptions = new AttentionOptions { Implementation = AttentionImplementation.Reference };
                    ModelBenchCommands.PrintFloorRow(ModelBenchCommands.ForwardVersusFloor(subject, model, b, l, n), "reference", ScalarType.Float32);
                }
            }
        }
        Console.WriteLine();
        Console.WriteLine(DenseKernels.Describe() + " (the GEMM floor times libtorch's matmul); native heap " + NativeHeap.Describe() + ".");
        Console.WriteLine();

        // 2. bfloat16 against float32, alternated; agreement on the fixture.
        Console.WriteLine("## bfloat16 inference against float32 (fast attention)");
        Console.WriteLine();
        Console.WriteLine("| shape | float32 (ms) | bfloat16 (ms) | speed-up | bfloat16 GEMM floor (ms) | bfloat16 / its floor |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        using (var fp32 = subject.BuildEncoder(ScalarType.Float32))
        using (var bf16 = subject.BuildEncoder(ScalarType.BFloat16))
        {
            foreach (var (b, l) in shapes.Where(s => s.Batch * s.Length <= 1024))
            {
                using var scope = NewDisposeScope();
                var inputs = subject.Inputs(b, l);
                var speed = PairedTimings.Run(() => BenchSubject.TimeForward(fp32, inputs), () => BenchSubject.TimeForward(bf16, inputs), pairs);
                var floor = ModelBenchCommands.ForwardVersusFloor(subject, bf16, b, l, Math.Max(3, pairs / 3));
                Console.WriteLine($"| {b}×{l} | {speed.MedianA:F1} | {speed.MedianB:F1} | {speed.MedianRatio:F2}× | {floor.Timings.MedianB:F1} | {floor.Timings.MedianRatio:F2} |");
            }
        }
        Console.WriteLine();
        if (fixture is not null)
        {
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            {
                var agreement = PrecisionParity.OnFixture(fixture, dtype);
                Console.WriteLine($"Top-1 agreement with float32, {BenchSubject.DTypeName(dtype)}, masked-LM fixture {Path.GetFileName(fixture)}: " +
                                  $"{agreement.Agreeing}/{agreement.Compared} = {agreement.Top1:P2} (max |Δ logit| {agreement.MaxAbsDifference:F3}).");
            }
        }
        else
        {
            Console.WriteLine("Top-1 agreement: no fixture (give --fixture DIR).");
        }
        Console.WriteLine();

        // 3. Memory of long inputs, fresh processes.
        Console.WriteLine("## Long inputs: one forward pass, fresh process each (float32)");
        Console.WriteLine();
        Console.WriteLine("| shape | attention | forward (ms) | resident before forward (MB) | peak resident (MB) |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var (b, l) in shapes.Where(s => s.Length >= 2048))
        {
            foreach (var implementation in new[] { "fast", "reference" })
            {
                // The reference keeps ~10 [heads, L, L] float32 tensors per layer (25 GB at 8192): capped so that it cannot take the machine down.
                var (result, code, error) = ModelBenchCommands.RunChild(["bench", "memory", "--shape", $"{b}x{l}", "--rss-cap-mb", "8000", .. SubjectArgs(subject, "float32", implementation)]);
                Console.WriteLine(result is null
                    ? $"| {b}×{l} | {implementation} | failed (exit {code}): {error.Split('\n').FirstOrDefault()} | | |"
                    : result["exceeded_cap_mb"] is { } cap
                        ? $"| {b}×{l} | {implementation} | stopped | {result["rss_before_forward_mb"]!.GetValue<double>():F0} | > {cap.GetValue<int>()} (cap reached) |"
                        : $"| {b}×{l} | {implementation} | {result["forward_ms"]!.GetValue<double>():F0} | {result["rss_before_forward_mb"]!.GetValue<double>():F0} | {result["peak_rss_mb"]!.GetValue<double>():F0} |");
            }
        }
        Console.WriteLine();

        // 4. Training step with and without checkpointing, fresh processes; gradient equality in process.
        Console.WriteLine("## Training step: forward + backward + DebertaSharp.Training.AdamW (sequence classification, float32, dropout on), fresh process each");
        Console.WriteLine();
        Console.WriteLine("| shape | gradient checkpointing | step (ms) | activations kept by forward (MB) | peak resident, forward + backward (MB) |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var trainShape in new[] { "8x128", "4x512" })
        {
            foreach (bool on in new[] { false, true })
            {
                var args = new List<string> { "bench", "train", "--shape", trainShape, "--steps", "3" };
                args.AddRange(SubjectArgs(subject, "float32", "fast"));
                if (on) args.Add("--checkpointing");
                var (result, code, error) = ModelBenchCommands.RunChild([.. args]);
                string shown = trainShape.Replace('x', '×');
                Console.WriteLine(result is null
                    ? $"| {shown} | {(on ? "on" : "off")} | failed (exit {code}): {error.Split('\n').FirstOrDefault()} | | |"
                    : $"| {shown} | {(on ? "on" : "off")} | {result["step_ms"]!.GetValue<double>():F0} | {result["forward_activations_mb"]!.GetValue<double>():F0} | {result["forward_backward_peak_rss_mb"]!.GetValue<double>():F0} |");
            }
        }
        var gradientCheck = CheckpointGradients(subject);
        Console.WriteLine();
        Console.WriteLine($"Gradients with checkpointing against without ({subject.Description}, 2×64, dropout 0.1, same seed): max |Δ| over all parameters {gradientCheck.MaxDiff:E2} (largest |gradient| {gradientCheck.MaxGrad:E2}).");
        Console.WriteLine();

        // 5. Loading, fresh process.
        Console.WriteLine("## Loading a float32 checkpoint, fresh process");
        Console.WriteLine();
        string folder = subject.Folder ?? SaveRandomCheckpoint(subject);
        Console.WriteLine("| load into | load (ms) | weights (MB) | resident before (MB) | peak resident (MB) | peak / weights |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var dtype in new[] { "float32", "bfloat16" })
        {
            var (result, code, error) = ModelBenchCommands.RunChild("bench", "load", "--model", folder, "--dtype", dtype);
            Console.WriteLine(result is null
                ? $"| {dtype} | failed (exit {code}): {error.Split('\n').FirstOrDefault()} | | | | |"
                : $"| {dtype} | {result["load_ms"]!.GetValue<double>():F0} | {result["weights_mb"]!.GetValue<double>():F0} | {result["rss_before_load_mb"]!.GetValue<double>():F0} | {result["peak_rss_mb"]!.GetValue<double>():F0} | {result["peak_over_weights"]!.GetValue<double>():F2} |");
        }
        if (subject.Folder is null) Directory.Delete(folder, recursive: true);
        Console.WriteLine();

        // 6. Tokenizer.
        Console.WriteLine("## Tokenizer");
        Console.WriteLine();
        if (tokenizerFolder is not null)
        {
            var tokenizer = AutoTokenizer.FromPretrained(tokenizerFolder);
            var texts = BenchCommand.Sentences(10_000, seed: 1);
            tokenizer.EncodeBatch(texts.Take(200).ToList());
            var seconds = new List<double>();
            long tokens = 0;
            for (int i = 0; i < 5; i++)
            {
                var sw = Stopwatch.StartNew();
                var batch = tokenizer.EncodeBatch(texts);
                seconds.Add(sw.Elapsed.TotalSeconds);
                tokens = batch.Encodings.Sum(e => (long)e.InputIds.Count);
            }
            double median = PairedTimings.Median(seconds);
            Console.WriteLine($"{tokenizer.GetType().Name} ({Path.GetFileName(tokenizerFolder)}): {tokens / median:N0} tokens/s ({texts.Count} sentences, {tokens} tokens, median of 5).");
        }
        else
        {
            Console.WriteLine("No tokenizer folder (give --tokenizer DIR).");
        }
        Console.WriteLine();
        Console.WriteLine($"Load average at end {CpuInfo.LoadAverage()}; report took {clock.Elapsed.TotalMinutes:F1} min.");
    }

    /// <summary>The options a child needs to measure the same subject.</summary>
    private static List<string> SubjectArgs(BenchSubject subject, string dtype, string implementation)
    {
        var args = subject.Folder is null ? new List<string> { "--config", "base" } : ["--model", subject.Folder];
        args.AddRange(["--threads", subject.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dtype", dtype, "--implementation", implementation]);
        return args;
    }

    private static (double MaxDiff, double MaxGrad) CheckpointGradients(BenchSubject subject)
    {
        manual_seed(3);
        using var model = subject.Folder is null ? new DebertaModel(subject.Config) : DebertaModel.FromPretrained(subject.Folder);
        model.train();
        var inputs = subject.Inputs(2, 64);
        Dictionary<string, Tensor> Gradients(bool checkpointing)
        {
            model.AttentionOptions = new AttentionOptions { GradientCheckpointing = checkpointing };
            model.zero_grad();
            manual_seed(11);
            using var scope = NewDisposeScope();
            using var output = model.Forward(inputs);
            output.LastHiddenState.square().mean().backward();
            return model.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.clone().DetachFromDisposeScope());
        }
        var plain = Gradients(false);
        var checkpointed = Gradients(true);
        double maxDiff = plain.Max(kv => (kv.Value - checkpointed[kv.Key]).abs().max().item<float>());
        double maxGrad = plain.Max(kv => kv.Value.abs().max().item<float>());
        foreach (var t in plain.Values.Concat(checkpointed.Values)) t.Dispose();
        return (maxDiff, maxGrad);
    }

    private static string SaveRandomCheckpoint(BenchSubject subject)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"deberta-bench-{Environment.ProcessId}");
        manual_seed(1);
        using var model = new DebertaModel(subject.Config);
        model.SavePretrained(folder);
        return folder;
    }
}
