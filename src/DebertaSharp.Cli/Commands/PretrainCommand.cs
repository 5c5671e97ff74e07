using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DebertaSharp.Configuration;
using DebertaSharp.Pretraining;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using Spectre.Console;

using UsageException = DebertaSharp.Cli.Commands.PipelineCli.UsageException;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// <c>deberta pretrain</c>: MLM (+EMD) or RTD pre-training on text files, with progress, periodic HF-compatible
/// checkpoints, a clean stop on Ctrl+C / SIGTERM (a checkpoint of the steps done) and <c>--resume</c>.
/// </summary>
internal static class PretrainCommand
{
    /// <summary>Exit code of a run stopped by Ctrl+C / SIGTERM after writing its checkpoint (128 + SIGINT).</summary>
    public const int Stopped = StopSignal.ExitCode;

    public static Command Create()
    {
        // Only the folder is checked at parse time: an RTD folder holds generator/ and discriminator/, not config.json.
        var model = CliErrors.FolderOption("--model", "Checkpoint folder to start from (MLM: a masked-LM or base checkpoint; RTD: a folder with generator/ and discriminator/, or one discriminator checkpoint).", ModelFolderNeeds.Folder, required: false);
        var config = new Option<string?>("--config") { Description = "config.json to build a new, randomly initialised model from." };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (spm.model or vocab.json + merges.txt); default: the --model folder or the folder of --config." };
        var corpus = new Option<string[]>("--corpus") { Description = "Text files or folders; one document per non-blank line. From folders only text files are read (see --corpus-extensions); others are skipped and listed.", Required = true, AllowMultipleArgumentsPerToken = true };
        var corpusExtensions = new Option<string?>("--corpus-extensions") { Description = "Comma-separated extensions read from --corpus folders (default " + string.Join(",", TextCorpus.DefaultExtensions) + ")." };
        var output = new Option<string>("--output") { Description = "Output folder: checkpoint-<step>/ folders and the final model.", Required = true };
        var objective = new Option<string?>("--objective") { Description = "mlm (masked LM through the Enhanced Mask Decoder) or rtd (DeBERTa-v3 replaced-token detection); default mlm, or the checkpoint's when resuming." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --output (its configs and tokenizer are used)." };
        var maxSteps = new Option<long>("--max-steps") { Description = "Optimizer steps of the run.", DefaultValueFactory = _ => 1000 };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences per step.", DefaultValueFactory = _ => 8 };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per sequence including [CLS]/[SEP]; longer lines are cut into several.", DefaultValueFactory = _ => 128 };
        var learningRate = new Option<double>("--learning-rate") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-4 };
        var warmup = new Option<long>("--warmup-steps") { Description = "Linear warm-up steps.", DefaultValueFactory = _ => 0 };
        var schedule = new Option<string>("--schedule") { Description = "linear | cosine | constant (after warm-up).", DefaultValueFactory = _ => "linear" };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => 0.01 };
        var maxGradNorm = new Option<double>("--max-grad-norm") { Description = "Gradient clipping per model (0 = off).", DefaultValueFactory = _ => 1.0 };
        var rtdWeight = new Option<double>("--rtd-weight") { Description = "λ of loss = MLM + λ·RTD.", DefaultValueFactory = _ => 50 };
        var generatorLayers = new Option<int?>("--generator-layers") { Description = "RTD generator depth for a new generator (default: half the discriminator's)." };
        var wholeWord = new Option<bool>("--whole-word-masking") { Description = "Mask all pieces of a word together." };
        var saveSteps = new Option<long>("--save-steps") { Description = "Write a checkpoint every N steps.", DefaultValueFactory = _ => 500 };
        var saveTotalLimit = new Option<int?>("--save-total-limit") { Description = "Keep only the newest N checkpoints." };
        var logSteps = new Option<long>("--log-steps") { Description = "Average and print the losses every N steps.", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation, dropout, sampling, data order and masking.", DefaultValueFactory = _ => 42 };
        var shuffleBuffer = new Option<int>("--shuffle-buffer") { Description = "Examples in the shuffle buffer (1 = corpus order).", DefaultValueFactory = _ => 10_000 };
        var threads = CliErrors.ThreadsOption();
        var json = new Option<bool>("--json") { Description = "No live display; print one JSON summary at the end." };

        var command = new Command("pretrain", "Pre-train a DeBERTa model from text: masked LM with the Enhanced Mask Decoder (--objective mlm) or v3 replaced-token detection with GDES (--objective rtd).")
        {
            model, config, tokenizer, corpus, corpusExtensions, output, objective, resume, maxSteps, batchSize, maxLength, learningRate, warmup, schedule,
            weightDecay, maxGradNorm, rtdWeight, generatorLayers, wholeWord, saveSteps, saveTotalLimit, logSteps, seed, shuffleBuffer, threads, json,
        };
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var request = new Request
                {
                    Model = parse.GetValue(model) is { } m ? CliErrors.ModelPath(m) : null,
                    Config = parse.GetValue(config),
                    Tokenizer = parse.GetValue(tokenizer),
                    Corpus = parse.GetValue(corpus) ?? [],
                    CorpusExtensions = parse.GetValue(corpusExtensions)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                    Output = parse.GetValue(output)!,
                    Objective = parse.GetValue(objective),
                    Resume = parse.GetValue(resume),
                    GeneratorLayers = parse.GetValue(generatorLayers),
                    Threads = parse.GetValue(threads),
                    Json = parse.GetValue(json),
                    Options = new PretrainingOptions
                    {
                        MaxSteps = parse.GetValue(maxSteps),
                        BatchSize = parse.GetValue(batchSize),
                        MaxLength = parse.GetValue(maxLength),
                        LearningRate = parse.GetValue(learningRate),
                        WarmupSteps = parse.GetValue(warmup),
                        Schedule = ParseSchedule(parse.GetValue(schedule)!),
                        WeightDecay = parse.GetValue(weightDecay),
                        MaxGradNorm = parse.GetValue(maxGradNorm),
                        RtdWeight = parse.GetValue(rtdWeight),
                        SaveSteps = parse.GetValue(saveSteps),
                        SaveTotalLimit = parse.GetValue(saveTotalLimit),
                        LogSteps = parse.GetValue(logSteps),
                        Seed = parse.GetValue(seed),
                        ShuffleBuffer = parse.GetValue(shuffleBuffer),
                    },
                    WholeWordMasking = parse.GetValue(wholeWord),
                };
                using var stop = new StopSignal("pretrain");
                return Run(request, stdout, stderr, stop.Token);
            }
            catch (Exception ex) when (ex is DebertaSharpException or UsageException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"deberta pretrain: {ex.Message}");
                return CliErrors.UserError;
            }
        });
        return command;
    }

    /// <summary>Everything the command was asked to do.</summary>
    internal sealed record Request
    {
        public string? Model { get; init; }
        public string? Config { get; init; }
        public string? Tokenizer { get; init; }
        public required string[] Corpus { get; init; }
        public string[]? CorpusExtensions { get; init; }
        public required string Output { get; init; }
        public string? Objective { get; init; }
        public bool Resume { get; init; }
        public int? GeneratorLayers { get; init; }
        public int? Threads { get; init; }
        public bool Json { get; init; }
        public bool WholeWordMasking { get; init; }
        public required PretrainingOptions Options { get; init; }
    }

    /// <summary>Builds the run, trains, and reports; returns the exit code.</summary>
    internal static int Run(Request request, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        if (request.Threads is < 1) throw new UsageException($"--threads must be at least 1, got {request.Threads}.");
        string output = Path.GetFullPath(request.Output);
        string? checkpoint = null;
        if (request.Resume)
        {
            checkpoint = Pretrainer.LatestCheckpoint(output)
                ?? throw new UsageException($"--resume: '{output}' holds no checkpoint-<step> folder to continue from.");
        }
        else if (Pretrainer.LatestCheckpoint(output) is { } existing)
        {
            throw new UsageException($"'{output}' already holds checkpoints ({Path.GetFileName(existing)}); pass --resume to continue that run or choose another --output.");
        }

        if (checkpoint is null && (request.Model is null) == (request.Config is null))
            throw new UsageException("Give exactly one of --model DIR (start from a checkpoint) or --config CONFIG (new model), or --resume.");
        var objective = ResolveObjective(request.Objective, checkpoint);
        var options = request.Options with
        {
            Masking = objective == PretrainingObjective.Rtd
                ? MaskingOptions.AllMask with { WholeWordMasking = request.WholeWordMasking }
                : new MaskingOptions { WholeWordMasking = request.WholeWordMasking },
        };
        options.Validate();

        string tokenizerFolder = request.Tokenizer ?? FindTokenizer(checkpoint, request.Model, request.Config);
        var tokenizer = AutoTokenizer.FromPretrained(tokenizerFolder);
        var corpus = new TextCorpus(request.Corpus, request.CorpusExtensions);
        if (corpus.Skipped.Count > 0)
        {
            stderr.WriteLine($"deberta pretrain: read {corpus.Files.Count} corpus files; skipped {corpus.Skipped.Count}:");
            foreach (var skipped in corpus.Skipped) stderr.WriteLine($"  {skipped.File}: {skipped.Reason}");
        }

        TrainingSeed.Set(options.Seed);   // reproducible initialisation of new weights
        using var model = BuildModel(objective, request, checkpoint, options);
        CliErrors.SetThreads(request.Threads, model.Parts.Select(p => p.Model.Config).MaxBy(c => c.HiddenSize));   // the widest part decides
        CheckVocabulary(tokenizer, model, tokenizerFolder);
        var trainer = new Pretrainer(model, tokenizer, corpus, output, options);

        var header = $"{objective.ToString().ToUpperInvariant()} pre-training of {Describe(model)}; {options.MaxSteps} steps of {options.BatchSize}×≤{options.MaxLength} tokens"
                     + (checkpoint is null ? "" : $"; resuming from {checkpoint}");
        PretrainingResult result;
        if (request.Json)
        {
            result = trainer.Run(null, checkpoint, stop);
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
            console.MarkupLineInterpolated($"[bold]{header}[/]");
            result = RunWithProgress(console, trainer, options, checkpoint, stop);
        }

        if (request.Json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(Summary(objective, result, output), new JsonSerializerOptions { WriteIndented = true }));
        }
        else if (result.Completed)
        {
            stdout.WriteLine($"done: {result.Steps} steps, {result.Tokens:N0} tokens in {result.Seconds:F1} s ({result.Tokens / Math.Max(1e-9, result.Seconds):N0} tokens/s); model in {output}");
        }
        if (!result.Completed)
        {
            stderr.WriteLine($"deberta pretrain: stopped at step {result.Steps}; checkpoint {result.LastCheckpoint}. Continue with the same arguments plus --resume.");
            return Stopped;
        }
        return 0;
    }

    private static PretrainingResult RunWithProgress(IAnsiConsole console, Pretrainer trainer, PretrainingOptions options, string? checkpoint, CancellationToken stop)
    {
        PretrainingResult? result = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: options.MaxSteps);
                var sink = new SyncProgress(report =>
                {
                    switch (report.Event)
                    {
                        case PretrainingEvent.Resumed:
                            task.Value = report.Step;
                            break;
                        case PretrainingEvent.Step:
                            task.Value = report.Step;
                            task.Description = string.Create(CultureInfo.InvariantCulture, $"step {report.Step} loss {report.Loss:F4}");
                            if (report.Step % options.LogSteps == 0) console.MarkupLine(Markup.Escape(StepLine(report)));
                            break;
                        case PretrainingEvent.Checkpoint:
                            console.MarkupLineInterpolated($"[grey]checkpoint {report.Checkpoint}[/]");
                            break;
                    }
                });
                result = trainer.Run(sink, checkpoint, stop);
                task.StopTask();
            });
        return result!;
    }

    private static string StepLine(PretrainingProgress r)
    {
        var c = CultureInfo.InvariantCulture;
        string line = string.Create(c, $"step {r.Step}/{r.MaxSteps} loss {r.Loss:F4} mlm {r.MlmLoss:F4}");
        if (r.RtdLoss is { } rtd) line += string.Create(c, $" rtd {rtd:F4} rtd-acc {r.RtdAccuracy:P1}");
        return line + string.Create(c, $" lr {r.LearningRate:0.##e+0} {r.TokensPerSecond:N0} tok/s");
    }

    private static object Summary(PretrainingObjective objective, PretrainingResult result, string output) => new
    {
        objective = objective.ToString().ToLowerInvariant(),
        completed = result.Completed,
        steps = result.Steps,
        steps_this_run = result.StepsThisRun,
        resumed_from = result.ResumedFrom,
        last_checkpoint = result.LastCheckpoint,
        final_model = result.FinalModel,
        output,
        seconds = result.Seconds,
        tokens = result.Tokens,
        tokens_per_second = result.Tokens / Math.Max(1e-9, result.Seconds),
        log_history = result.LogHistory.Select(e => new Dictionary<string, double>(e.Values) { ["step"] = e.Step, ["epoch"] = e.Epoch }),
    };

    private static PretrainingObjective ResolveObjective(string? given, string? checkpoint)
    {
        PretrainingObjective? fromCheckpoint = checkpoint is null ? null
            : Directory.Exists(Path.Combine(checkpoint, RtdPretrainingModel.DiscriminatorFolder)) ? PretrainingObjective.Rtd : PretrainingObjective.Mlm;
        if (given is null) return fromCheckpoint ?? PretrainingObjective.Mlm;
        var objective = given.ToLowerInvariant() switch
        {
            "mlm" => PretrainingObjective.Mlm,
            "rtd" => PretrainingObjective.Rtd,
            _ => throw new UsageException($"--objective must be mlm or rtd, got '{given}'."),
        };
        if (fromCheckpoint is { } saved && saved != objective)
            throw new UsageException($"--objective {given}: the checkpoint {checkpoint} is of a {saved.ToString().ToLowerInvariant()} run.");
        return objective;
    }

    /// <summary>The model to train: the checkpoint's configs (weights are restored by the trainer), --model, or --config.</summary>
    private static PretrainingModel BuildModel(PretrainingObjective objective, Request request, string? checkpoint, PretrainingOptions options)
    {
        if (checkpoint is not null)
        {
            return objective == PretrainingObjective.Mlm
                ? MlmPretrainingModel.Create(DebertaConfig.FromPretrained(checkpoint))
                : RtdPretrainingModel.Create(DebertaConfig.FromPretrained(Path.Combine(checkpoint, RtdPretrainingModel.DiscriminatorFolder)),
                    DebertaConfig.FromPretrained(Path.Combine(checkpoint, RtdPretrainingModel.GeneratorFolder)), options.RtdWeight);
        }
        if (request.Model is { } folder)
        {
            if (!Directory.Exists(folder)) throw new UsageException($"--model folder '{folder}' does not exist.");
            return objective == PretrainingObjective.Mlm
                ? MlmPretrainingModel.FromPretrained(folder)
                : RtdPretrainingModel.FromPretrained(folder, request.GeneratorLayers, options.RtdWeight);
        }
        var config = ReadConfig(request.Config!);
        return objective == PretrainingObjective.Mlm
            ? MlmPretrainingModel.Create(config)
            : RtdPretrainingModel.Create(config, request.GeneratorLayers, options.RtdWeight);
    }

    /// <summary>A config file, or a folder holding <c>config.json</c>.</summary>
    private static DebertaConfig ReadConfig(string path)
    {
        if (Directory.Exists(path)) return DebertaConfig.FromPretrained(path);
        if (!File.Exists(path)) throw new UsageException($"--config '{path}' does not exist.");
        return DebertaConfig.FromJsonFile(path);
    }

    /// <summary>
    /// Where the tokenizer is when --tokenizer is not given: in the checkpoint being resumed (or its discriminator/), in the
    /// --model folder (or its discriminator/), or beside --config.
    /// </summary>
    private static string FindTokenizer(string? checkpoint, string? model, string? config)
    {
        var candidates = new List<string>();
        foreach (var root in new[] { checkpoint, model })
            if (root is not null) candidates.AddRange([root, Path.Combine(root, RtdPretrainingModel.DiscriminatorFolder)]);
        if (config is not null) candidates.Add(Directory.Exists(config) ? config : Path.GetDirectoryName(Path.GetFullPath(config))!);
        foreach (var folder in candidates)
            if (AutoTokenizer.HasTokenizer(folder))
                return folder;
        throw new UsageException(
            $"No tokenizer (spm.model, vocab.json + merges.txt, or tokenizer.json) in {string.Join(", ", candidates.Distinct())}; give --tokenizer DIR.");
    }

    private static void CheckVocabulary(DebertaTokenizerBase tokenizer, PretrainingModel model, string folder)
    {
        int vocab = model.Parts[0].Model.Config.VocabSize;
        if (tokenizer.VocabularySize > vocab)
            throw new UsageException(
                $"The tokenizer in {folder} has {tokenizer.VocabularySize} tokens but the model's vocab_size is {vocab}; ids would fall outside the embedding.");
    }

    private static string Describe(PretrainingModel model) => string.Join(" + ", model.Parts.Select(p =>
    {
        var c = p.Model.Config;
        string name = p.Folder.Length == 0 ? p.Model.ArchitectureName : p.Folder;
        long parameters = p.Model.parameters().Sum(t => t.numel());
        return $"{name} ({c.NumHiddenLayers} layers × {c.HiddenSize}, {parameters:N0} parameters)";
    }));

    private static ScheduleKind ParseSchedule(string value) => value.ToLowerInvariant() switch
    {
        "linear" => ScheduleKind.Linear,
        "cosine" => ScheduleKind.Cosine,
        "constant" => ScheduleKind.Constant,
        _ => throw new UsageException($"--schedule must be linear, cosine or constant, got '{value}'."),
    };

    /// <summary>Reports synchronously on the training thread.</summary>
    private sealed class SyncProgress(Action<PretrainingProgress> report) : IProgress<PretrainingProgress>
    {
        public void Report(PretrainingProgress value) => report(value);
    }
}
