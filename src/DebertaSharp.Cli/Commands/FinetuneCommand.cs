using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Cli.Commands;

/// <summary>Everything <c>deberta finetune</c> is told.</summary>
internal sealed record FinetuneArguments
{
    public required string ModelDir { get; init; }
    public required string Task { get; init; }
    public required string Train { get; init; }
    public string? Eval { get; init; }
    public required string Output { get; init; }
    public string TextColumn { get; init; } = "text";
    public string? PairColumn { get; init; }
    public string LabelColumn { get; init; } = "label";
    public IReadOnlyList<string>? Labels { get; init; }
    public bool Regression { get; init; }
    public bool MultiLabel { get; init; }
    public string LabelDelimiter { get; init; } = ",";
    public double? LayerwiseLrDecay { get; init; }
    public double? HeadLearningRate { get; init; }
    public string? ClassWeights { get; init; }
    public double LabelSmoothing { get; init; }
    public int? LoraRank { get; init; }
    public double? LoraAlpha { get; init; }
    public double LoraDropout { get; init; }
    public string? LoraTargets { get; init; }
    public IReadOnlyList<string> ChoiceColumns { get; init; } = [];
    public int TagColumn { get; init; } = -1;
    public int Epochs { get; init; } = 3;
    public long? MaxSteps { get; init; }
    public double LearningRate { get; init; } = 2e-5;
    public int BatchSize { get; init; } = 16;
    public int EvalBatchSize { get; init; } = 32;
    public int GradientAccumulation { get; init; } = 1;
    public int? MaxLength { get; init; }
    public int DocStride { get; init; } = 128;
    public double Warmup { get; init; }
    public string Schedule { get; init; } = "linear";
    public string MixedPrecision { get; init; } = "none";
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    public int Seed { get; init; } = 42;
    public long? EvalSteps { get; init; }
    public int LoggingSteps { get; init; } = 10;
    public string? Metric { get; init; }
    public int? EarlyStopping { get; init; }
    public bool GroupByLength { get; init; }
    public int SaveTotalLimit { get; init; } = 2;
    public bool Resume { get; init; }
    public bool Overwrite { get; init; }
    public bool Json { get; init; }
    public string Device { get; init; } = "cpu";
    public int? Threads { get; init; }
}

/// <summary>
/// <c>deberta finetune</c>: fine-tunes a checkpoint on a labelled file with the library's <see cref="Trainer"/>, shows
/// progress (Spectre.Console) or prints JSON, and leaves the model in HF layout with <c>metrics.json</c> and a
/// loss/metric curve PNG beside it. Ctrl+C or SIGTERM stops at the next step boundary with a checkpoint (<see cref="StopSignal"/>); <c>--resume</c> continues it.
/// </summary>
internal static class FinetuneCommand
{
    public const int Cancelled = StopSignal.ExitCode;

    /// <summary>The <c>--mixed-precision</c> values.</summary>
    public static readonly string[] Precisions = ["none", "bf16", "fp16"];

    /// <summary>A <c>--mixed-precision</c> value (<see cref="Precisions"/>) as the option.</summary>
    /// <exception cref="TrainingException">Another value.</exception>
    public static MixedPrecision ParseMixedPrecision(string value) => value switch
    {
        "none" => Training.MixedPrecision.None,
        "bf16" => Training.MixedPrecision.BFloat16,
        "fp16" => Training.MixedPrecision.Float16,
        _ => throw new TrainingException($"--mixed-precision must be one of {string.Join(", ", Precisions)}, got '{value}'."),
    };

    public static readonly string[] Tasks = ["text-classification", "pair-classification", "token-classification", "question-answering", "multiple-choice"];

    public static Command Create()
    {
        var model = CliErrors.ModelOption(ModelFolderNeeds.ConfigAndTokenizer);
        model.Description = "Checkpoint to start from (config.json + weights + tokenizer files): a pre-trained encoder or an already fine-tuned head.";
        var task = new Option<string>("--task") { Description = "What to train: " + string.Join(", ", Tasks) + ".", Required = true };
        task.AcceptOnlyFromAmong(Tasks);
        var train = new Option<FileInfo>("--train") { Description = "Training file: CSV/TSV/JSONL (classification, pairs, multiple choice), CoNLL (token classification) or SQuAD JSON (question answering).", Required = true };
        var eval = new Option<FileInfo?>("--eval") { Description = "Evaluation file in the same format; metrics, best checkpoint and early stopping use it." };
        var output = new Option<DirectoryInfo>("--output") { Description = "Folder for checkpoints, the final model, metrics.json and training_curve.png.", Required = true };
        var textColumn = new Option<string>("--text-column") { Description = "Column of the (first) text / the context.", DefaultValueFactory = _ => "text" };
        var pairColumn = new Option<string?>("--pair-column") { Description = "Column of the second text (pair-classification), or of the start shared by every choice (multiple-choice)." };
        var labelColumn = new Option<string>("--label-column") { Description = "Column of the label (multiple-choice: the 0-based index of the right choice).", DefaultValueFactory = _ => "label" };
        var labels = new Option<string?>("--labels") { Description = "Comma-separated label names in class order (default: the training file's labels, sorted; or the checkpoint's id2label)." };
        var regression = new Option<bool>("--regression") { Description = "Labels are numbers: one output, MSE loss, Pearson/Spearman metrics." };
        var multiLabel = new Option<bool>("--multi-label") { Description = "Each example has any number of labels (a JSON list, or names joined by --label-delimiter): BCE loss, micro F1." };
        var delimiter = new Option<string>("--label-delimiter") { Description = "What separates the labels of a --multi-label field that is not a JSON list.", DefaultValueFactory = _ => "," };
        var layerDecay = new Option<double?>("--layerwise-lr-decay") { Description = "Layer-wise learning-rate decay in (0, 1], e.g. 0.8: each lower layer (and the embeddings) trains at that factor of the layer above." };
        var headLr = new Option<double?>("--head-lr") { Description = "Peak learning rate of the task head (default: --lr)." };
        var classWeights = new Option<string?>("--class-weights") { Description = "Comma-separated cross-entropy weights, one per label in class order." };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing of the cross-entropy loss, in [0, 1).", DefaultValueFactory = _ => 0 };
        var loraRank = new Option<int?>("--lora-rank") { Description = "Train a LoRA adapter of this rank instead of every weight (PEFT format: adapter_config.json + adapter_model.safetensors, and the merged model)." };
        var loraAlpha = new Option<double?>("--lora-alpha") { Description = "LoRA alpha (scaling alpha / rank; default 2 × rank)." };
        var loraDropout = new Option<double>("--lora-dropout") { Description = "Dropout on the LoRA input.", DefaultValueFactory = _ => 0 };
        var loraTargets = new Option<string?>("--lora-targets") { Description = "Comma-separated module names to adapt (default: query_proj, key_proj, value_proj, output.dense, intermediate.dense)." };
        var choices = new Option<string?>("--choice-columns") { Description = "Comma-separated columns of the choices (multiple-choice)." };
        var tagColumn = new Option<int>("--tag-column") { Description = "0-based column of the tag in CoNLL files (default: the last).", DefaultValueFactory = _ => -1 };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training data.", DefaultValueFactory = _ => 3 };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Optimizer steps in all (overrides --epochs)." };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate of AdamW.", DefaultValueFactory = _ => 2e-5 };
        var batch = new Option<int>("--batch-size") { Description = "Examples per batch.", DefaultValueFactory = _ => 16 };
        var evalBatch = new Option<int>("--eval-batch-size") { Description = "Examples per evaluation batch.", DefaultValueFactory = _ => 32 };
        var accumulation = new Option<int>("--grad-accum") { Description = "Batches accumulated into one optimizer step.", DefaultValueFactory = _ => 1 };
        var maxLength = new Option<int?>("--max-length") { Description = "Tokens per example after truncation (default 128; 256 for token-classification, 384 for question-answering)." };
        var stride = new Option<int>("--doc-stride") { Description = "Question answering: tokens shared by consecutive context windows.", DefaultValueFactory = _ => 128 };
        var warmup = new Option<double>("--warmup") { Description = "Linear warm-up: a share of all steps when below 1 (0.06), else a number of steps.", DefaultValueFactory = _ => 0 };
        var schedule = new Option<string>("--schedule") { Description = "Learning rate after warm-up: linear, cosine or constant.", DefaultValueFactory = _ => "linear" };
        schedule.AcceptOnlyFromAmong("linear", "cosine", "constant");
        var precision = new Option<string>("--mixed-precision") { Description = "Matrix products in bf16 (fast with AMX or on AMD CPUs with avx512_bf16; slower than float32 on Intel CPUs without AMX: measure with `deberta bench train`) or fp16 (with loss scaling; slow on the CPU); weights, optimizer, LayerNorm, softmax and loss stay float32.", DefaultValueFactory = _ => "none" };
        precision.AcceptOnlyFromAmong(Precisions);
        var weightDecay = new Option<double>("--weight-decay") { Description = "Decoupled weight decay (not on biases and LayerNorm).", DefaultValueFactory = _ => 0.01 };
        var clip = new Option<double>("--max-grad-norm") { Description = "Gradient-norm clipping (0 turns it off).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the new head's initialisation, dropout and data order.", DefaultValueFactory = _ => 42 };
        var evalSteps = new Option<long?>("--eval-steps") { Description = "Evaluate and save a checkpoint every N steps (default: every epoch)." };
        var logging = new Option<int>("--logging-steps") { Description = "Log the training loss every N steps.", DefaultValueFactory = _ => 10 };
        var metric = new Option<string?>("--metric") { Description = "Metric that picks the best checkpoint (accuracy, f1_macro, mcc, pearson, spearman, f1, exact_match, loss …; default per task)." };
        var patience = new Option<int?>("--early-stopping") { Description = "Stop after N evaluations without improvement." };
        var bucket = new Option<bool>("--group-by-length") { Description = "Batch examples of similar length together (less padding)." };
        var keep = new Option<int>("--save-total-limit") { Description = "Newest checkpoints to keep (the best is always kept).", DefaultValueFactory = _ => 2 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --output (same data and options)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start afresh even if --output holds checkpoints of an earlier run (they are deleted)." };
        var json = new Option<bool>("--json") { Description = "No progress display; print one JSON object with the results." };
        var device = new Option<string>("--device") { Description = "cpu or cuda.", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        var threads = CliErrors.ThreadsOption();

        var cmd = new Command("finetune", "Fine-tune a checkpoint on labelled data; writes the model (HF layout), metrics.json and training_curve.png.")
        {
            model, task, train, eval, output, textColumn, pairColumn, labelColumn, labels, regression, multiLabel, delimiter, choices, tagColumn,
            layerDecay, headLr, classWeights, smoothing, loraRank, loraAlpha, loraDropout, loraTargets,
            epochs, maxSteps, lr, batch, evalBatch, accumulation, maxLength, stride, warmup, schedule, precision, weightDecay, clip, seed,
            evalSteps, logging, metric, patience, bucket, keep, resume, overwrite, json, device, threads,
        };
        cmd.SetAction(parse =>
        {
            static IReadOnlyList<string>? List(string? s) => s?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var arguments = new FinetuneArguments
            {
                ModelDir = CliErrors.ModelPath(parse.GetValue(model)!),
                Task = parse.GetValue(task)!,
                Train = parse.GetValue(train)!.FullName,
                Eval = parse.GetValue(eval)?.FullName,
                Output = parse.GetValue(output)!.FullName,
                TextColumn = parse.GetValue(textColumn)!,
                PairColumn = parse.GetValue(pairColumn),
                LabelColumn = parse.GetValue(labelColumn)!,
                Labels = List(parse.GetValue(labels)),
                Regression = parse.GetValue(regression),
                MultiLabel = parse.GetValue(multiLabel),
                LabelDelimiter = parse.GetValue(delimiter)!,
                LayerwiseLrDecay = parse.GetValue(layerDecay),
                HeadLearningRate = parse.GetValue(headLr),
                ClassWeights = parse.GetValue(classWeights),
                LabelSmoothing = parse.GetValue(smoothing),
                LoraRank = parse.GetValue(loraRank),
                LoraAlpha = parse.GetValue(loraAlpha),
                LoraDropout = parse.GetValue(loraDropout),
                LoraTargets = parse.GetValue(loraTargets),
                ChoiceColumns = List(parse.GetValue(choices)) ?? [],
                TagColumn = parse.GetValue(tagColumn),
                Epochs = parse.GetValue(epochs),
                MaxSteps = parse.GetValue(maxSteps),
                LearningRate = parse.GetValue(lr),
                BatchSize = parse.GetValue(batch),
                EvalBatchSize = parse.GetValue(evalBatch),
                GradientAccumulation = parse.GetValue(accumulation),
                MaxLength = parse.GetValue(maxLength),
                DocStride = parse.GetValue(stride),
                Warmup = parse.GetValue(warmup),
                Schedule = parse.GetValue(schedule)!,
                MixedPrecision = parse.GetValue(precision)!,
                WeightDecay = parse.GetValue(weightDecay),
                MaxGradNorm = parse.GetValue(clip),
                Seed = parse.GetValue(seed),
                EvalSteps = parse.GetValue(evalSteps),
                LoggingSteps = parse.GetValue(logging),
                Metric = parse.GetValue(metric),
                EarlyStopping = parse.GetValue(patience),
                GroupByLength = parse.GetValue(bucket),
                SaveTotalLimit = parse.GetValue(keep),
                Resume = parse.GetValue(resume),
                Overwrite = parse.GetValue(overwrite),
                Json = parse.GetValue(json),
                Device = parse.GetValue(device)!,
                Threads = parse.GetValue(threads),
            };
            using var stop = new StopSignal("finetune");
            return Run(arguments, Console.Out, Console.Error, stop.Token);
        });
        return cmd;
    }

    /// <summary>Runs the command; user errors become a one-line message on <paramref name="stderr"/> and exit code 2.</summary>
    public static int Run(FinetuneArguments a, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        CliErrors.Run(() => StopSignal.ExitOnCancel("finetune", stderr, () => Execute(a, stdout, stderr, cancellationToken)), stderr);

    private static int Execute(FinetuneArguments a, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        // Refuse a used output folder before anything is loaded or printed.
        if (!a.Resume && !a.Overwrite && TrainingCheckpoint.Latest(a.Output) is { } earlier)
            throw new TrainingException($"'{a.Output}' already holds checkpoints of an earlier run ({Path.GetFileName(earlier)}): pass --resume to continue it, --overwrite to start afresh, or choose another --output.");
        if (a.Resume && TrainingCheckpoint.Latest(a.Output) is null)
            throw new CheckpointException($"--resume: no checkpoint-<step> folder in '{a.Output}'.");
        if (!Directory.Exists(a.ModelDir)) throw new DebertaSharpException($"Model folder '{a.ModelDir}' does not exist.");
        var device = a.Device == "cuda" ? CUDA : CPU;
        var tokenizer = AutoTokenizer.FromPretrained(a.ModelDir);
        var config = DebertaConfig.FromPretrained(a.ModelDir);
        CliErrors.SetThreads(a.Threads, config);
        var head = HeadOf(a.Task);
        // Continuing to train a fine-tuned head keeps its label order (when the data's labels are among its labels)
        // unless --labels says otherwise; other labels get a new head.
        IReadOnlyList<string>? labels = a.Labels;
        if (labels is null && AutoModel.HeadOf(config) == head && !HasDefaultLabels(config) && !a.Regression && !a.MultiLabel && LabelsIn(a) is { } used)
        {
            var known = config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList();
            if (used.All(known.Contains)) labels = known;
        }
        var (train, eval) = LoadData(a, tokenizer, labels);

        TrainingSeed.Set(a.Seed);                           // the new head's initialisation is part of the run
        using var model = FineTuningModel.FromPretrained(a.ModelDir, train, device);
        if (a.LoraRank is { } rank)
        {
            Adapters.Lora.Apply(model, new Adapters.LoraOptions
            {
                Rank = rank,
                Alpha = a.LoraAlpha ?? 2.0 * rank,
                Dropout = a.LoraDropout,
                TargetModules = a.LoraTargets?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                BaseModelNameOrPath = a.ModelDir,
            });
        }
        else if (a.LoraAlpha is not null || a.LoraTargets is not null || a.LoraDropout != 0)
        {
            throw new DebertaConfigurationException("--lora-alpha, --lora-dropout and --lora-targets need --lora-rank.");
        }

        var options = new TrainerOptions
        {
            OutputDirectory = a.Output,
            Epochs = a.Epochs,
            MaxSteps = a.MaxSteps,
            BatchSize = a.BatchSize,
            EvalBatchSize = a.EvalBatchSize,
            GradientAccumulationSteps = a.GradientAccumulation,
            Optimizer = new AdamWOptions { LearningRate = a.LearningRate, WeightDecay = a.WeightDecay },
            Schedule = Enum.Parse<ScheduleKind>(a.Schedule, ignoreCase: true),
            MixedPrecision = ParseMixedPrecision(a.MixedPrecision),
            WarmupRatio = a.Warmup is >= 0 and < 1 ? a.Warmup : 0,
            WarmupSteps = a.Warmup >= 1 ? (long)a.Warmup : null,
            MaxGradNorm = a.MaxGradNorm,
            LayerwiseLrDecay = a.LayerwiseLrDecay,
            HeadLearningRate = a.HeadLearningRate,
            ClassWeights = a.ClassWeights?.Split(',', StringSplitOptions.TrimEntries).Select(w =>
                double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x : throw new TrainingException($"--class-weights: '{w}' is not a number.")).ToList(),
            LabelSmoothing = a.LabelSmoothing,
            Seed = a.Seed,
            EvalSteps = a.EvalSteps,
            LoggingSteps = a.LoggingSteps,
            MetricForBestModel = a.Metric,
            EarlyStoppingPatience = a.EarlyStopping,
            GroupByLength = a.GroupByLength,
            SaveTotalLimit = a.SaveTotalLimit,
            OverwriteOutputDirectory = a.Overwrite,
            Tokenizer = tokenizer,
        };
        if (a.Warmup < 0 || (a.Warmup >= 1 && a.Warmup != Math.Floor(a.Warmup)))
            throw new TrainingException($"--warmup must be a share in [0, 1) or a whole number of steps, got {a.Warmup}.");
        var trainer = new Trainer(model, train, eval, options);
        string? resumeFrom = null;
        if (a.Resume)
            resumeFrom = TrainingCheckpoint.Latest(a.Output) ?? throw new CheckpointException($"--resume: no checkpoint-<step> folder in '{a.Output}'.");

        TrainingResult result;
        if (a.Json)
        {
            result = trainer.Train(resumeFrom, null, cancellationToken);
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
            console.MarkupLine($"[bold]{Markup.Escape(model.ArchitectureName)}[/] from {Markup.Escape(a.ModelDir)}: " +
                               $"{train.Count} training items{(eval is null ? "" : $", {eval.ExampleCount} evaluation examples")}, {trainer.TotalSteps} steps" +
                               (resumeFrom is null ? "" : $", resuming from {Markup.Escape(resumeFrom)}"));
            if (model.LoraOptions is { } lora)
            {
                var (trainable, total) = Adapters.Lora.ParameterCounts(model);
                console.MarkupLine($"[grey]LoRA r={lora.Rank} alpha={lora.Alpha}: {trainable:N0} of {total:N0} parameters train[/]");
            }
            if (model.LoadReport is { Missing.Count: > 0 } report)
                console.MarkupLine($"[grey]newly initialised: {Markup.Escape(string.Join(", ", report.Missing))}[/]");
            if (model.LoadReport?.Ignored.Where(i => i.Reason.Contains("replaced by a new", StringComparison.Ordinal)).Select(i => i.Key).ToList() is { Count: > 0 } replaced)
                console.MarkupLine($"[grey]not used (another head): {Markup.Escape(string.Join(", ", replaced))}[/]");
            result = RunWithProgress(console, trainer, resumeFrom, cancellationToken);
        }

        string plot = Path.Combine(result.OutputDirectory, TrainingCurve.FileName);
        string? plotError = null;
        try
        {
            TrainingCurve.Save(plot, result.LogHistory, result.MetricForBestModel, $"{a.Task}: {Path.GetFileName(a.Train)}");
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or IOException)
        {
            plotError = $"the curve could not be drawn ({e.GetType().Name}: {e.Message})";
            stderr.WriteLine($"warning: {plotError}");
        }

        if (a.Json)
        {
            var summary = new Dictionary<string, object?>
            {
                ["output"] = result.OutputDirectory,
                ["metrics_file"] = result.MetricsFile,
                ["plot"] = plotError is null ? plot : null,
                ["architecture"] = model.ArchitectureName,
                ["trainable_parameters"] = Adapters.Lora.ParameterCounts(model).Trainable,
                ["lora_adapter"] = model.LoraOptions is null ? null : Path.Combine(result.OutputDirectory, Adapters.Lora.ConfigFileName),
                ["global_step"] = result.GlobalStep,
                ["epoch"] = result.Epoch,
                ["train_loss"] = Finite(result.TrainLoss),
                ["eval"] = result.EvalMetrics?.ToDictionary(kv => kv.Key, kv => Finite(kv.Value)),
                ["metric_for_best_model"] = result.MetricForBestModel,
                ["best_metric"] = result.BestMetric is { } b ? Finite(b) : null,
                ["best_checkpoint"] = result.BestCheckpoint,
                ["early_stopped"] = result.EarlyStopped,
                ["runtime_seconds"] = Math.Round(result.Runtime.TotalSeconds, 3),
            };
            stdout.WriteLine(JsonSerializer.Serialize(summary));
        }
        else
        {
            PrintSummary(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) }), result, plotError is null ? plot : null);
        }
        return 0;
    }

    private static object? Finite(double v) => double.IsFinite(v) ? v : v.ToString(CultureInfo.InvariantCulture);

    private static TrainingResult RunWithProgress(IAnsiConsole console, Trainer trainer, string? resumeFrom, CancellationToken cancellationToken)
    {
        TrainingResult? result = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: trainer.TotalSteps);
                string lastEval = "";
                double? lastLoss = null;
                var progress = new SyncProgress(p =>
                {
                    task.Value = p.GlobalStep;
                    if (p.Loss is { } l) lastLoss = l;
                    if (p.Event == TrainingEvent.Evaluated && p.Metrics is { } m && m.TryGetValue(trainer.MetricForBest, out var v))
                        lastEval = $" {trainer.MetricForBest} {v:F4}";
                    if (p.Event == TrainingEvent.EvaluationStarted) lastEval = " evaluating…";
                    task.Description = Markup.Escape($"step {p.GlobalStep}/{p.TotalSteps} epoch {p.Epoch:F2} loss {lastLoss:F4}{lastEval}");
                });
                result = trainer.Train(resumeFrom, progress, cancellationToken);
                ctx.Refresh();
            });
        return result!;
    }

    private static void PrintSummary(IAnsiConsole console, TrainingResult result, string? plot)
    {
        var evaluations = result.LogHistory.Where(e => e.Values.Keys.Any(k => k.StartsWith("eval_", StringComparison.Ordinal))).ToList();
        if (evaluations.Count > 0)
        {
            var keys = evaluations.SelectMany(e => e.Values.Keys).Distinct().OrderBy(k => k == "eval_loss" ? "" : k, StringComparer.Ordinal).ToList();
            var table = new Table().AddColumn("step").AddColumn("epoch");
            foreach (var k in keys) table.AddColumn(k);
            foreach (var e in evaluations)
            {
                var cells = new List<string> { e.Step.ToString(CultureInfo.InvariantCulture), e.Epoch.ToString("F2", CultureInfo.InvariantCulture) };
                cells.AddRange(keys.Select(k => e.Values.TryGetValue(k, out var v) ? v.ToString("F4", CultureInfo.InvariantCulture) : ""));
                table.AddRow(cells.Select(Markup.Escape).ToArray());
            }
            console.Write(table);
        }
        console.MarkupLine($"train loss {result.TrainLoss:F4} over {result.GlobalStep} steps in {result.Runtime.TotalSeconds:F1} s{(result.EarlyStopped ? " (stopped early)" : "")}");
        if (result.BestMetric is { } best)
            console.MarkupLine(Markup.Escape($"best {result.MetricForBestModel} {best:F4} at {result.BestCheckpoint}"));
        console.MarkupLine(Markup.Escape($"model: {result.OutputDirectory}; metrics: {result.MetricsFile}{(plot is null ? "" : $"; curve: {plot}")}"));
    }

    private static (FineTuningDataset Train, FineTuningDataset? Eval) LoadData(FinetuneArguments a, DebertaTokenizerBase tokenizer, IReadOnlyList<string>? labels)
    {
        switch (a.Task)
        {
            case "text-classification":
            case "pair-classification":
            {
                if (a.Task == "pair-classification" && a.PairColumn is null)
                    throw new DatasetException("pair-classification needs --pair-column (the column of the second text).");
                var options = new TextClassificationDatasetOptions
                {
                    TextColumn = a.TextColumn,
                    PairColumn = a.Task == "pair-classification" ? a.PairColumn : null,
                    LabelColumn = a.LabelColumn,
                    Labels = labels,
                    Regression = a.Regression,
                    MultiLabel = a.MultiLabel,
                    LabelDelimiter = a.LabelDelimiter,
                    MaxLength = a.MaxLength ?? 128,
                };
                var train = TextClassificationDataset.Load(a.Train, tokenizer, options);
                return (train, a.Eval is null ? null : TextClassificationDataset.Load(a.Eval, tokenizer, train.Options));
            }
            case "token-classification":
            {
                var options = new TokenClassificationDatasetOptions { Labels = labels, TagColumn = a.TagColumn, MaxLength = a.MaxLength ?? 256 };
                var train = TokenClassificationDataset.Load(a.Train, tokenizer, options);
                return (train, a.Eval is null ? null : TokenClassificationDataset.Load(a.Eval, tokenizer, options with { Labels = train.Labels }));
            }
            case "question-answering":
            {
                var options = new QuestionAnsweringDatasetOptions { MaxLength = a.MaxLength ?? 384, DocStride = a.DocStride };
                return (QuestionAnsweringDataset.Load(a.Train, tokenizer, options), a.Eval is null ? null : QuestionAnsweringDataset.Load(a.Eval, tokenizer, options));
            }
            default:
            {
                var options = new MultipleChoiceDatasetOptions
                {
                    TextColumn = a.TextColumn,
                    PairColumn = a.PairColumn,
                    ChoiceColumns = a.ChoiceColumns,
                    LabelColumn = a.LabelColumn,
                    MaxLength = a.MaxLength ?? 128,
                };
                return (MultipleChoiceDataset.Load(a.Train, tokenizer, options), a.Eval is null ? null : MultipleChoiceDataset.Load(a.Eval, tokenizer, options));
            }
        }
    }

    // The labels the training file uses (classification and tagging only), read without tokenising.
    private static HashSet<string>? LabelsIn(FinetuneArguments a) => a.Task switch
    {
        "text-classification" or "pair-classification" => TabularFile.Read(a.Train).Records
            .Select(r => r.Fields.GetValueOrDefault(a.LabelColumn)?.Trim()).OfType<string>().ToHashSet(StringComparer.Ordinal),
        "token-classification" => ConllFile.Read(a.Train, a.TagColumn).SelectMany(s => s.Tags).ToHashSet(StringComparer.Ordinal),
        _ => null,
    };

    private static HeadKind HeadOf(string task) => task switch
    {
        "text-classification" or "pair-classification" => HeadKind.SequenceClassification,
        "token-classification" => HeadKind.TokenClassification,
        "question-answering" => HeadKind.QuestionAnswering,
        "multiple-choice" => HeadKind.MultipleChoice,
        _ => throw new DebertaSharpException($"Unknown task '{task}'; expected one of {string.Join(", ", Tasks)}."),
    };

    private static bool HasDefaultLabels(DebertaConfig config) =>
        config.Id2Label.All(kv => kv.Value == $"LABEL_{kv.Key}");

    private sealed class SyncProgress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
