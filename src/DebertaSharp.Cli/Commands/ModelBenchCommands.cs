using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using DebertaSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// <c>deberta bench model|memory|load</c>: forward latency against the GEMM floor measured in alternation, peak memory
/// of one forward pass, checkpoint load time and memory. Each prints a Markdown table or one JSON line.
/// </summary>
internal static class ModelBenchCommands
{
    public const string DefaultShapes = "1x128,8x128,1x512,1x2048,1x8192";

    public static IEnumerable<Command> Create() => [ModelCommand(), MemoryCommand(), TrainCommand(), LoadCommand()];

    // ------------------------------------------------------------------ bench model

    private static Command ModelCommand()
    {
        var shapes = new Option<string>("--shapes") { Description = "BATCHxLENGTH list.", DefaultValueFactory = _ => DefaultShapes };
        var pairs = new Option<int>("--pairs") { Description = "Timed (model, floor) pairs per shape; medians reported.", DefaultValueFactory = _ => 7 };
        var freeze = new Option<bool>("--freeze") { Description = "Freeze the model for inference first (FreezeForInference: float32 dense weights prepacked for oneDNN)." };
        var cmd = new Command("model", "Forward latency against the GEMM floor of the reference algorithm, measured alternately (A B A B …) in one run.") { shapes, pairs, freeze };
        BenchSubject.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var subject = BenchSubject.From(parse);
            int n = parse.GetValue(pairs);
            if (n < 1) throw new DebertaSharpException($"--pairs must be at least 1, got {n}.");
            using var model = subject.BuildEncoder();
            bool frozen = parse.GetValue(freeze) && model.FreezeForInference() > 0;
            Console.WriteLine($"# {subject.Description}: {BenchSubject.DTypeName(subject.DTypeValue)}, {subject.Options.Implementation} attention, {subject.Threads} threads, " +
                              $"{(frozen ? "frozen for inference, " : "")}medians of {n} alternated pairs");
            Console.WriteLine();
            PrintFloorHeader();
            foreach (var (b, l) in BenchSubject.ParseShapes(parse.GetValue(shapes)!))
                PrintFloorRow(ForwardVersusFloor(subject, model, b, l, n), model.AttentionOptions.Implementation.ToString().ToLowerInvariant(), subject.DTypeValue);
            return 0;
        }));
        return cmd;
    }

    public sealed record FloorRow(long Batch, long Length, PairedTimings Timings);

    /// <summary>Model forward (A) alternating with the GEMM floor (B) at [batch, length], in the model's dtype.</summary>
    public static FloorRow ForwardVersusFloor(BenchSubject subject, DebertaModel model, long batch, long length, int pairs)
    {
        using var scope = NewDisposeScope();
        var inputs = subject.Inputs(batch, length);
        var dtype = model.DType;
        var timings = PairedTimings.Run(
            () => BenchSubject.TimeForward(model, inputs),
            () => GemmFloor.Measure(subject.Config, batch, length, dtype, model.Device).TotalMilliseconds,
            pairs);
        return new FloorRow(batch, length, timings);
    }

    public static void PrintFloorHeader()
    {
        Console.WriteLine("| shape | attention | dtype | forward (ms) | GEMM floor (ms) | forward / floor |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: |");
    }

    public static void PrintFloorRow(FloorRow row, string implementation, ScalarType dtype) =>
        Console.WriteLine($"| {row.Batch}×{row.Length} | {implementation} | {BenchSubject.DTypeName(dtype)} | {row.Timings.MedianA:F1} | {row.Timings.MedianB:F1} | {row.Timings.MedianRatio:F2} |");

    // ------------------------------------------------------------------ bench memory

    private static Command MemoryCommand()
    {
        var shape = new Option<string>("--shape") { Description = "BATCHxLENGTH.", DefaultValueFactory = _ => "1x8192" };
        var cap = new Option<int>("--rss-cap-mb") { Description = "Stop (exit code 3) as soon as resident memory exceeds this many MB; 0 = no cap.", DefaultValueFactory = _ => 0 };
        var chunk = new Option<int>("--chunk-above") { Description = "Chunk queries above this length (fast attention).", DefaultValueFactory = _ => new AttentionOptions().ChunkQueriesAbove };
        var chunkSize = new Option<int>("--chunk-size") { Description = "Query rows per chunk (fast attention).", DefaultValueFactory = _ => new AttentionOptions().QueryChunkSize };
        var cmd = new Command("memory", "Peak resident memory of one forward pass; run it in a fresh process (the peak covers the process's life). Prints one JSON line.") { shape, cap, chunk, chunkSize };
        BenchSubject.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var subject = BenchSubject.From(parse);
            var (b, l) = BenchSubject.ParseShapes(parse.GetValue(shape)!).Single();
            int capMb = parse.GetValue(cap);
            using var model = subject.BuildEncoder();
            model.AttentionOptions = model.AttentionOptions with { ChunkQueriesAbove = parse.GetValue(chunk), QueryChunkSize = parse.GetValue(chunkSize) };
            using var inputs = new InputsOwner(subject.Inputs(b, l));
            long before = ProcessMemory.ResidentBytes() ?? 0;
            using var watchdog = capMb > 0 ? new RssWatchdog(capMb * 1024L * 1024L, () => Json(subject, b, l, before, null, null, exceededMb: capMb)) : null;
            double ms = BenchSubject.TimeForward(model, inputs.Inputs);
            Console.WriteLine(Json(subject, b, l, before, ProcessMemory.PeakResidentBytes(), ms, exceededMb: null));
            return 0;
        }));
        return cmd;
    }

    private static string Json(BenchSubject subject, long batch, long length, long before, long? peak, double? ms, int? exceededMb) =>
        new JsonObject
        {
            ["shape"] = $"{batch}x{length}",
            ["implementation"] = subject.Options.Implementation.ToString().ToLowerInvariant(),
            ["dtype"] = BenchSubject.DTypeName(subject.DTypeValue),
            ["rss_before_forward_mb"] = before / (1024.0 * 1024.0),
            ["peak_rss_mb"] = peak is null ? null : peak.Value / (1024.0 * 1024.0),
            ["forward_ms"] = ms,
            ["exceeded_cap_mb"] = exceededMb,
        }.ToJsonString();

    /// <summary>Disposes the tensors of benchmark inputs.</summary>
    private sealed class InputsOwner(DebertaInputs inputs) : IDisposable
    {
        public DebertaInputs Inputs { get; } = inputs;

        public void Dispose()
        {
            Inputs.InputIds.Dispose();
            Inputs.AttentionMask?.Dispose();
        }
    }

    /// <summary>Polls resident memory every 5 ms and ends the process (exit code 3) once it passes the cap, printing a JSON line first.</summary>
    private sealed class RssWatchdog : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        public RssWatchdog(long capBytes, Func<string> report)
        {
            var token = _stop.Token;
            new Thread(() =>
            {
                while (!token.IsCancellationRequested)
                {
                    if ((ProcessMemory.ResidentBytes() ?? 0) > capBytes)
                    {
                        Console.WriteLine(report());
                        Console.Out.Flush();
                        Environment.Exit(3);
                    }
                    Thread.Sleep(5);
                }
            }) { IsBackground = true, Name = "rss-watchdog" }.Start();
        }

        public void Dispose() => _stop.Cancel();
    }

    // ------------------------------------------------------------------ bench train

    private static Command TrainCommand()
    {
        var shape = new Option<string>("--shape") { Description = "BATCHxLENGTH.", DefaultValueFactory = _ => "8x128" };
        var steps = new Option<int>("--steps") { Description = "Timed steps after one warm-up step; the median is reported.", DefaultValueFactory = _ => 5 };
        var checkpointing = new Option<bool>("--checkpointing") { Description = "Per-layer gradient checkpointing." };
        var loraRank = new Option<int?>("--lora-rank") { Description = "Train a LoRA adapter of this rank (default targets, alpha 2 × rank) instead of every weight." };
        var precision = new Option<string>("--mixed-precision") { Description = "bf16 or fp16: also time mixed-precision steps, alternated with float32 steps (A B A B …), and print the speed-up.", DefaultValueFactory = _ => "none" };
        precision.AcceptOnlyFromAmong(FinetuneCommand.Precisions);
        var cmd = new Command("train", "One training step (forward, backward, AdamW) of sequence classification: median time and peak resident memory; run it in a fresh process. Prints one JSON line.") { shape, steps, checkpointing, loraRank, precision };
        BenchSubject.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var subject = BenchSubject.From(parse);
            var (b, l) = BenchSubject.ParseShapes(parse.GetValue(shape)!).Single();
            int n = parse.GetValue(steps);
            if (n < 1) throw new DebertaSharpException($"--steps must be at least 1, got {n}.");
            var result = TrainSteps(subject, b, l, n, parse.GetValue(checkpointing), parse.GetValue(loraRank),
                FinetuneCommand.ParseMixedPrecision(parse.GetValue(precision)!));
            Console.WriteLine(result.ToJsonString());
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// Warm-up step, then <paramref name="steps"/> timed steps; dropout as the config says (training mode). With
    /// <paramref name="precision"/>, float32 and mixed-precision steps alternate (<see cref="PairedTimings"/>) and the
    /// float32/mixed ratio of the medians of pairs is reported.
    /// </summary>
    public static JsonObject TrainSteps(BenchSubject subject, long batch, long length, int steps, bool checkpointing, int? loraRank = null,
        DebertaSharp.Training.MixedPrecision precision = DebertaSharp.Training.MixedPrecision.None)
    {
        manual_seed(1);
        using var model = subject.Folder is null
            ? new DebertaForSequenceClassification(subject.Config)
            : DebertaForSequenceClassification.FromPretrained(subject.Folder);
        if (subject.DTypeValue != ScalarType.Float32) model.to(subject.DTypeValue);
        model.train();
        model.AttentionOptions = subject.Options with { GradientCheckpointing = checkpointing };
        if (loraRank is { } rank) DebertaSharp.Adapters.Lora.Apply(model, new DebertaSharp.Adapters.LoraOptions { Rank = rank, Alpha = 2.0 * rank });
        var (trainable, total) = DebertaSharp.Adapters.Lora.ParameterCounts(model);
        using var optimizer = new DebertaSharp.Training.AdamW(model.named_parameters().Where(p => p.parameter.requires_grad), new DebertaSharp.Training.AdamWOptions { LearningRate = 1e-5 });
        var inputs = subject.Inputs(batch, length);
        var labels = randint(0, model.Config.NumLabels, [batch], dtype: ScalarType.Int64);
        inputs = inputs with { Labels = labels };
        // First step in this fresh process: resident memory before, after the forward pass (activations kept for
        // backward) and at the peak of forward + backward (gradients included, optimizer step not). Later steps reuse memory the
        // allocator keeps, so they are timed only.
        long before = ProcessMemory.ResidentBytes() ?? 0;
        long afterForward = 0, peak = 0;
        double Step()
        {
            long start = Stopwatch.GetTimestamp();
            using (var scope = NewDisposeScope())
            {
                using var output = model.Forward(inputs);
                if (afterForward == 0) afterForward = ProcessMemory.ResidentBytes() ?? 0;
                output.Loss!.backward();
            }
            if (peak == 0) peak = ProcessMemory.PeakResidentBytes() ?? 0;
            optimizer.Step();
            optimizer.ZeroGrad();
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        ProcessMemory.TryResetPeak();
        Step();
        var times = Enumerable.Range(0, steps).Select(_ => Step()).ToList();
        JsonObject? mixed = null;
        if (precision.ComputeType() is { } low)
        {
            double MixedStep()
            {
                using var autocast = Autocast.Enter(low);
                return Step();
            }
            var paired = PairedTimings.Run(Step, MixedStep, steps);
            mixed = new JsonObject
            {
                ["precision"] = BenchSubject.DTypeName(low),
                ["float32_step_ms"] = paired.MedianA,
                ["mixed_step_ms"] = paired.MedianB,
                ["speedup"] = paired.MedianRatio,                  // median over pairs of float32 / mixed
                ["pairs"] = steps,
                ["cpu"] = CpuInfo.Describe(),
                ["load_average"] = CpuInfo.LoadAverage(),
            };
        }
        return new JsonObject
        {
            ["mixed_precision"] = mixed,
            ["shape"] = $"{batch}x{length}",
            ["optimizer"] = typeof(DebertaSharp.Training.AdamW).FullName,
            ["gradient_checkpointing"] = checkpointing,
            ["lora_rank"] = loraRank,
            ["trainable_parameters"] = trainable,
            ["total_parameters"] = total,
            ["dtype"] = BenchSubject.DTypeName(subject.DTypeValue),
            ["step_ms"] = PairedTimings.Median(times),
            ["rss_before_first_step_mb"] = before / (1024.0 * 1024.0),
            ["forward_activations_mb"] = (afterForward - before) / (1024.0 * 1024.0),
            ["forward_backward_peak_rss_mb"] = peak / (1024.0 * 1024.0),
        };
    }

    // ------------------------------------------------------------------ bench load

    private static Command LoadCommand()
    {
        var model = CliErrors.ModelOption();
        var dtype = new Option<string>("--dtype") { Description = "Load into float32, bfloat16 or float16.", DefaultValueFactory = _ => "float32" };
        var cmd = new Command("load", "Checkpoint load time and peak resident memory against the size of the weights; run it in a fresh process. Prints one JSON line.") { model, dtype };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            string folder = CliErrors.ModelPath(parse.GetValue(model)!);
            var target = BenchSubject.ParseDType(parse.GetValue(dtype)!);
            using (var warm = ones(1)) { }                                    // load libtorch before the baseline
            long before = ProcessMemory.ResidentBytes() ?? 0;
            long start = Stopwatch.GetTimestamp();
            using var loaded = AutoModel.FromPretrained(folder, dtype: target);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            long peak = ProcessMemory.PeakResidentBytes() ?? 0;
            long weights = loaded.parameters().Sum(p => p.numel() * p.element_size());
            long files = Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith(".bin", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(new JsonObject
            {
                ["folder"] = folder,
                ["dtype"] = BenchSubject.DTypeName(target),
                ["load_ms"] = ms,
                ["checkpoint_file_mb"] = files / (1024.0 * 1024.0),
                ["weights_mb"] = weights / (1024.0 * 1024.0),
                ["rss_before_load_mb"] = before / (1024.0 * 1024.0),
                ["peak_rss_mb"] = peak / (1024.0 * 1024.0),
                ["peak_over_weights"] = (double)peak / weights,
            }.ToJsonString());
            return 0;
        }));
        return cmd;
    }

    // ------------------------------------------------------------------ child processes

    /// <summary>Runs this program again with <paramref name="args"/> and returns its last JSON line (and its exit code).</summary>
    public static (JsonObject? Result, int ExitCode, string Error) RunChild(params string[] args)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string host = Environment.ProcessPath ?? throw new DebertaSharpException("Cannot find this program's path to start a child process.");
        start.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            start.ArgumentList.Add((System.Reflection.Assembly.GetEntryAssembly() ?? typeof(ModelBenchCommands).Assembly).Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new DebertaSharpException($"Could not start {host}.");
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line) lines.Add(line);
        process.WaitForExit();
        var json = lines.LastOrDefault(l => l.StartsWith('{'));
        return (json is null ? null : JsonNode.Parse(json)!.AsObject(), process.ExitCode, stderr.Result);
    }
}
