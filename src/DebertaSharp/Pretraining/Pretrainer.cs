using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.IO;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// The pre-training loop for MLM (+EMD) and RTD: streams masked batches from a corpus, optimises each
/// <see cref="PretrainingPart"/> with its own <see cref="AdamW"/> and gradient clipping under one learning-rate schedule,
/// reports progress, and writes <see cref="TrainingCheckpoint"/>s every <see cref="PretrainingOptions.SaveSteps"/>.
/// <para>
/// Checkpoints: <c>OUTPUT/checkpoint-&lt;step&gt;/</c>, written atomically — for MLM one <see cref="TrainingCheckpoint"/>
/// folder; for RTD <c>generator/</c> and <c>discriminator/</c> training checkpoints plus the run's
/// <c>trainer_state.json</c>. Each holds the HF model(s) and the tokenizer (saved with <see cref="DebertaTokenizerBase.SavePretrained"/>). At the end the final model(s) go to
/// <c>OUTPUT/</c> (MLM) or <c>OUTPUT/generator</c> and <c>OUTPUT/discriminator</c> (RTD).
/// </para>
/// <para>
/// Resuming restores weights, optimizer moments, torch's RNG state and the position in the data (batches are a pure
/// function of seed, epoch and index), so an interrupted run continued from a checkpoint reaches the same weights as
/// an uninterrupted one. Cancellation is honoured between steps: the run writes a checkpoint of the steps done and throws
/// <see cref="TrainingCanceledException"/>, as <see cref="Trainer.Train"/> does.
/// (Only the log differs: the first averaged entry after a resume covers the steps since the resume.)
/// </para>
/// </summary>
public sealed class Pretrainer
{
    private readonly PretrainingModel _model;
    private readonly PretrainingOptions _options;
    private readonly PretrainingDataStream _data;
    private readonly MaskingOptions _masking;
    private readonly string _output;
    private readonly DebertaTokenizerBase _tokenizer;

    /// <summary>Prepares a run of <paramref name="model"/> on <paramref name="corpus"/> writing into <paramref name="outputFolder"/>.</summary>
    /// <param name="model">The model(s) to train.</param>
    /// <param name="tokenizer">The tokenizer of the model (its <c>[MASK]</c>, <c>[PAD]</c> and vocabulary drive masking).</param>
    /// <param name="corpus">The text to train on.</param>
    /// <param name="outputFolder">Where checkpoints and the final model go.</param>
    /// <param name="options">Run settings.</param>
    /// <exception cref="TrainingException">Invalid options, or a tokenizer without <c>[MASK]</c>.</exception>
    public Pretrainer(PretrainingModel model, DebertaTokenizerBase tokenizer, TextCorpus corpus, string outputFolder,
        PretrainingOptions options)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(outputFolder);
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _masking = options.EffectiveMasking(model.Objective);
        _data = new PretrainingDataStream(corpus, tokenizer, new MlmCollator(tokenizer, _masking), options.BatchSize, options.MaxLength,
            options.Seed, options.ShuffleBuffer);
        _output = Path.GetFullPath(outputFolder);
        _tokenizer = tokenizer;
    }

    /// <summary>The newest checkpoint folder under <paramref name="outputFolder"/>, or <c>null</c>.</summary>
    public static string? LatestCheckpoint(string outputFolder) => TrainingCheckpoint.Latest(outputFolder);

    /// <summary>
    /// Trains until <see cref="PretrainingOptions.MaxSteps"/> or cancellation. A fresh run seeds torch with
    /// <see cref="PretrainingOptions.Seed"/> first (seed before building the model, too, for a reproducible initialisation);
    /// with <paramref name="resumeFrom"/> the run continues from that checkpoint instead.
    /// </summary>
    /// <param name="resumeFrom">A checkpoint folder of an earlier run with the same data settings.</param>
    /// <param name="progress">Receives reports synchronously on the training thread.</param>
    /// <param name="cancellationToken">Stops the run at the next step boundary, after writing a checkpoint.</param>
    /// <returns>The finished run.</returns>
    /// <exception cref="TrainingCanceledException">Cancelled: the run stopped at a step boundary after writing a checkpoint
    /// (its <see cref="TrainingCanceledException.Checkpoint"/> and <see cref="TrainingCanceledException.GlobalStep"/>); a
    /// <see cref="PretrainingEvent.Cancelled"/> report precedes it.</exception>
    /// <exception cref="TrainingException">A non-finite loss, or a checkpoint written with other data settings.</exception>
    /// <exception cref="CheckpointException">A checkpoint that cannot be read or written.</exception>
    public PretrainingResult Train(string? resumeFrom = null, IProgress<PretrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var schedule = new LearningRateSchedule(_options.Schedule, _options.WarmupSteps, _options.MaxSteps);
        var optimizers = _model.Parts.Select(p => new AdamW(p.Parameters, _options.AdamW())).ToArray();
        try
        {
            TrainingState state;
            if (resumeFrom is null)
            {
                TrainingSeed.Set(_options.Seed);
                state = NewState(schedule);
                progress?.Report(new PretrainingProgress { Event = PretrainingEvent.Started, Step = 0, MaxSteps = _options.MaxSteps, Epoch = 0 });
            }
            else
            {
                state = Load(resumeFrom, optimizers);
                state.Schedule = schedule;
                progress?.Report(new PretrainingProgress
                {
                    Event = PretrainingEvent.Resumed, Step = state.GlobalStep, MaxSteps = _options.MaxSteps, Epoch = state.Epoch,
                    Checkpoint = Path.GetFullPath(resumeFrom),
                });
            }

            long startStep = state.GlobalStep, tokens = 0;
            string? lastCheckpoint = null;
            long savedStep = -1;
            if (resumeFrom is not null && string.Equals(Path.GetFullPath(resumeFrom).TrimEnd(Path.DirectorySeparatorChar),
                    Path.Combine(_output, TrainingCheckpoint.FolderName(state.GlobalStep)), StringComparison.Ordinal))
            {
                savedStep = state.GlobalStep;          // that checkpoint is already in this output folder
                lastCheckpoint = Path.GetFullPath(resumeFrom);
            }
            var window = new LogWindow();
            _model.Train();
            while (state.GlobalStep < _options.MaxSteps)
            {
                foreach (var batch in _data.Epoch(state.Epoch, state.StepInEpoch))
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        if (savedStep != state.GlobalStep) lastCheckpoint = Save(state, optimizers, progress);
                        progress?.Report(new PretrainingProgress
                        {
                            Event = PretrainingEvent.Cancelled, Step = state.GlobalStep, MaxSteps = _options.MaxSteps, Epoch = state.Epoch,
                            Checkpoint = lastCheckpoint,
                        });
                        throw new TrainingCanceledException(lastCheckpoint!, state.GlobalStep, cancellationToken);
                    }

                    var report = Step(batch, state, schedule, optimizers, window);
                    tokens += batch.TokenCount;
                    report = report with { TokensPerSecond = tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds) };
                    progress?.Report(report);

                    if (state.GlobalStep % _options.SaveSteps == 0 || state.GlobalStep == _options.MaxSteps)
                    {
                        lastCheckpoint = Save(state, optimizers, progress);
                        savedStep = state.GlobalStep;
                    }
                    if (state.GlobalStep >= _options.MaxSteps) break;
                }
                if (state.GlobalStep >= _options.MaxSteps) break;
                state.Epoch++;
                state.StepInEpoch = 0;
            }
            if (savedStep != state.GlobalStep) lastCheckpoint = Save(state, optimizers, progress);

            SaveFinal();
            progress?.Report(new PretrainingProgress
            {
                Event = PretrainingEvent.Finished, Step = state.GlobalStep, MaxSteps = _options.MaxSteps, Epoch = state.Epoch,
                Checkpoint = lastCheckpoint,
            });
            return Result(state, startStep, resumeFrom, lastCheckpoint, _output, clock, tokens);
        }
        finally
        {
            foreach (var optimizer in optimizers) optimizer.Dispose();
        }
    }

    /// <summary>One optimizer step on <paramref name="batch"/>.</summary>
    private PretrainingProgress Step(MaskedBatch batch, TrainingState state, LearningRateSchedule schedule, AdamW[] optimizers, LogWindow window)
    {
        using var scope = NewDisposeScope();
        double lr = _options.LearningRate * schedule.Factor(state.GlobalStep);
        foreach (var optimizer in optimizers)
        {
            optimizer.LearningRate = lr;
            optimizer.ZeroGrad();
        }
        var losses = _model.Forward(batch);
        double total = losses.Total.detach().to(ScalarType.Float64).item<double>();
        if (!double.IsFinite(total))
            throw new TrainingException($"The loss became {total} at step {state.GlobalStep + 1} (MLM {losses.MlmLoss}, RTD {losses.RtdLoss}); lower the learning rate or check the data.");
        var norms = new double[optimizers.Length];
        if (losses.Total.requires_grad)
        {
            losses.Total.backward();
            _model.AfterBackward();
            for (int i = 0; i < optimizers.Length; i++)
                norms[i] = _options.MaxGradNorm > 0 ? GradientClipping.ClipGradNorm(optimizers[i].Parameters, _options.MaxGradNorm) : double.NaN;
            foreach (var optimizer in optimizers) optimizer.Step();
        }
        state.GlobalStep++;
        state.StepInEpoch++;

        window.Add(total, losses, lr);
        if (state.GlobalStep % _options.LogSteps == 0 || state.GlobalStep == _options.MaxSteps)
            state.LogHistory.Add(new LogEntry(state.GlobalStep, state.Epoch, window.Flush()));
        return new PretrainingProgress
        {
            Event = PretrainingEvent.Step,
            Step = state.GlobalStep,
            MaxSteps = _options.MaxSteps,
            Epoch = state.Epoch,
            Loss = total,
            MlmLoss = losses.MlmLoss,
            RtdLoss = losses.RtdLoss,
            MlmAccuracy = losses.MlmAccuracy,
            RtdAccuracy = losses.RtdAccuracy,
            LearningRate = lr,
            GradientNorms = norms,
        };
    }

    /// <summary>Writes <c>checkpoint-&lt;step&gt;</c> atomically and prunes old ones.</summary>
    private string Save(TrainingState state, AdamW[] optimizers, IProgress<PretrainingProgress>? progress)
    {
        _model.BeforeSave();
        Directory.CreateDirectory(_output);
        string folder = Path.Combine(_output, TrainingCheckpoint.FolderName(state.GlobalStep));
        var parts = _model.Parts;
        if (parts.Count == 1 && parts[0].Folder.Length == 0)
        {
            TrainingCheckpoint.Save(folder, parts[0].Model, optimizers[0], state, _tokenizer);
        }
        else
        {
            TrainingCheckpoint.SaveFolder(folder, temp =>
            {
                for (int i = 0; i < parts.Count; i++)
                    TrainingCheckpoint.WriteFiles(Path.Combine(temp, parts[i].Folder), parts[i].Model, optimizers[i], state, _tokenizer);
                AtomicFile.WriteAllText(Path.Combine(temp, TrainingState.FileName), state.ToJson());
            });
        }
        if (_options.SaveTotalLimit is int keep) TrainingCheckpoint.Prune(_output, keep, folder);
        progress?.Report(new PretrainingProgress
        {
            Event = PretrainingEvent.Checkpoint, Step = state.GlobalStep, MaxSteps = _options.MaxSteps, Epoch = state.Epoch, Checkpoint = folder,
        });
        return folder;
    }

    /// <summary>Writes the final model(s) in HF layout with the tokenizer.</summary>
    private void SaveFinal()
    {
        _model.SavePretrained(_output);
        foreach (var part in _model.Parts)
            _tokenizer.SavePretrained(Path.Combine(_output, part.Folder));
    }

    /// <summary>Restores every part and the run's state from <paramref name="folder"/>, checking the data settings agree.</summary>
    private TrainingState Load(string folder, AdamW[] optimizers)
    {
        var state = TrainingCheckpoint.ReadState(folder);
        CheckSameSettings(state, folder);
        var parts = _model.Parts;
        for (int i = 0; i < parts.Count; i++)
        {
            string partFolder = Path.Combine(folder, parts[i].Folder);
            if (!Directory.Exists(partFolder))
                throw new CheckpointException($"Checkpoint '{folder}' has no '{parts[i].Folder}' folder; it was not written by a {_model.Objective} run.");
            TrainingCheckpoint.Load(partFolder, parts[i].Model, optimizers[i]);
        }
        return state;
    }

    private TrainingState NewState(LearningRateSchedule schedule)
    {
        var state = new TrainingState { Seed = _options.Seed, LearningRate = _options.LearningRate, Schedule = schedule };
        foreach (var (key, value) in Settings()) state.Extra[key] = JsonValue.Create(value);
        state.Extra["corpus_files"] = new JsonArray(_data.Corpus.Files.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray());
        return state;
    }

    /// <summary>The settings that fix the data order and the objective; a resumed run must use the same.</summary>
    private IEnumerable<(string Key, string Value)> Settings()
    {
        string Number(double d) => d.ToString("R", CultureInfo.InvariantCulture);
        yield return ("objective", _model.Objective.ToString().ToLowerInvariant());
        yield return ("batch_size", _options.BatchSize.ToString(CultureInfo.InvariantCulture));
        yield return ("max_length", _options.MaxLength.ToString(CultureInfo.InvariantCulture));
        yield return ("shuffle_buffer", _options.ShuffleBuffer.ToString(CultureInfo.InvariantCulture));
        yield return ("mask_rate", Number(_masking.MaskRate));
        yield return ("mask_token_fraction", Number(_masking.MaskTokenFraction));
        yield return ("random_token_fraction", Number(_masking.RandomTokenFraction));
        yield return ("whole_word_masking", _masking.WholeWordMasking ? "true" : "false");
        if (_model.Objective == PretrainingObjective.Rtd) yield return ("rtd_weight", Number(_options.RtdWeight));
    }

    private void CheckSameSettings(TrainingState state, string folder)
    {
        var problems = new List<string>();
        if (state.Seed != _options.Seed) problems.Add($"seed {state.Seed} (this run: {_options.Seed})");
        foreach (var (key, value) in Settings())
        {
            string? saved = state.Extra.TryGetValue(key, out var node) && node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (saved != value) problems.Add($"{key} {saved ?? "(none)"} (this run: {value})");
        }
        if (problems.Count > 0)
            throw new TrainingException(
                $"Checkpoint '{folder}' was written with other settings, so resuming would not continue the same run: {string.Join(", ", problems)}.");
    }

    private PretrainingResult Result(TrainingState state, long startStep, string? resumedFrom, string? lastCheckpoint,
        string? finalModel, Stopwatch clock, long tokens) => new()
    {
        Steps = state.GlobalStep,
        StepsThisRun = state.GlobalStep - startStep,
        ResumedFrom = resumedFrom is null ? null : Path.GetFullPath(resumedFrom),
        LastCheckpoint = lastCheckpoint,
        FinalModel = finalModel,
        LogHistory = state.LogHistory.ToList(),
        Seconds = clock.Elapsed.TotalSeconds,
        Tokens = tokens,
    };

    /// <summary>Running sums between two log entries.</summary>
    private sealed class LogWindow
    {
        private int _count;
        private double _loss, _mlm, _rtd, _mlmAccuracy, _rtdAccuracy, _lr;
        private bool _hasRtd;

        public void Add(double total, PretrainingLosses losses, double lr)
        {
            _count++;
            _loss += total;
            _mlm += losses.MlmLoss;
            _mlmAccuracy += losses.MlmAccuracy;
            _lr = lr;
            if (losses.RtdLoss is { } rtd)
            {
                _hasRtd = true;
                _rtd += rtd;
                _rtdAccuracy += losses.RtdAccuracy ?? 0;
            }
        }

        public Dictionary<string, double> Flush()
        {
            var values = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["loss"] = _loss / _count,
                ["mlm_loss"] = _mlm / _count,
                ["mlm_accuracy"] = _mlmAccuracy / _count,
                ["learning_rate"] = _lr,
            };
            if (_hasRtd)
            {
                values["rtd_loss"] = _rtd / _count;
                values["rtd_accuracy"] = _rtdAccuracy / _count;
            }
            _count = 0;
            _loss = _mlm = _rtd = _mlmAccuracy = _rtdAccuracy = 0;
            _hasRtd = false;
            return values;
        }
    }
}
