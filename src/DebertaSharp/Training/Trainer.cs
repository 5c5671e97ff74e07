using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.IO;
using DebertaSharp.Modeling;
using DebertaSharp.Training.Data;
using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// Fine-tunes any DebertaSharp head on a <see cref="FineTuningDataset"/>: AdamW with decoupled weight decay,
/// warm-up then linear/cosine decay, gradient clipping and accumulation, evaluation with task metrics every N steps or
/// epoch, best-checkpoint selection, early stopping, deterministic seeding and exact resume.
/// </summary>
/// <remarks>
/// <para>Checkpoints (<c>checkpoint-&lt;step&gt;</c> in <see cref="TrainerOptions.OutputDirectory"/>) hold model, optimizer,
/// schedule position, step and RNG state (<see cref="TrainingCheckpoint"/>); one is written at every evaluation point
/// and when cancelled. Resuming from one continues exactly: the same batches (data order is a function of seed and
/// epoch), the same dropout masks, the same weights as an uninterrupted run.</para>
/// <para>At the end the final (or best) model is saved to the output folder in HF layout with the tokenizer (<see cref="TrainerOptions.Tokenizer"/>), and
/// <c>metrics.json</c> beside it (with a LoRA adapter on the model: the merged model plus PEFT's <c>adapter_config.json</c> and
/// <c>adapter_model.safetensors</c>, which every checkpoint also holds). Progress goes to an <see cref="IProgress{T}"/>; the library writes nothing to the console.</para>
/// </remarks>
public sealed class Trainer
{
    /// <summary>The metrics file written beside the final model.</summary>
    public const string MetricsFileName = "metrics.json";

    // Where the float16 loss scaler's state is kept in trainer_state.json's extra fields.
    private const string GradScalerKey = "grad_scaler";

    private readonly DebertaPreTrainedModel _model;
    private readonly FineTuningDataset _train;
    private readonly FineTuningDataset? _eval;

    /// <summary>Creates a trainer; nothing runs until <see cref="Train"/>.</summary>
    /// <exception cref="TrainingException">Bad options, or a dataset that does not fit the model's head or labels.</exception>
    public Trainer(DebertaPreTrainedModel model, FineTuningDataset train, FineTuningDataset? eval, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        train.CheckModel(model);
        eval?.CheckModel(model);
        _model = model;
        _train = train;
        _eval = eval;
        Options = options;
        MetricForBest = NormaliseMetric(options.MetricForBestModel ?? (eval is null ? "loss" : train.DefaultMetric));
        GreaterIsBetter = options.GreaterIsBetter ?? !(MetricForBest.EndsWith("loss", StringComparison.Ordinal) || MetricForBest.EndsWith("mse", StringComparison.Ordinal));
        int batches = BatchPlan.BatchesPerEpoch(train.Count, options.BatchSize);
        StepsPerEpoch = (batches + options.GradientAccumulationSteps - 1) / options.GradientAccumulationSteps;
        TotalSteps = options.MaxSteps ?? (long)StepsPerEpoch * options.Epochs;
        long warmup = options.WarmupSteps ?? LearningRateSchedule.WarmupFromRatio(options.WarmupRatio, TotalSteps);
        Schedule = new LearningRateSchedule(options.Schedule, warmup, TotalSteps);
        Schedule.Validate();
        CheckLossOptions(model, options);
        ComputeType = CheckMixedPrecision(model, options.MixedPrecision);
    }

    /// <summary>The compute type of the dense layers under <see cref="TrainerOptions.MixedPrecision"/>; <c>null</c> for float32.</summary>
    public ScalarType? ComputeType { get; }

    // Mixed precision keeps float32 masters, and the device must run products in the low precision.
    private static ScalarType? CheckMixedPrecision(DebertaPreTrainedModel model, MixedPrecision precision)
    {
        if (precision.ComputeType() is not { } type) return null;
        if (model.DType != ScalarType.Float32)
            throw new TrainingException($"Mixed precision ({precision}) keeps float32 master weights; this {model.ArchitectureName} is in {model.DType}. Load it in float32.");
        try
        {
            using var scope = NewDisposeScope();
            var probe = ones([2, 2], type, model.Device);
            probe.matmul(probe).to(ScalarType.Float32).sum().item<float>();
        }
        catch (Exception e) when (e is not DebertaSharpException)
        {
            throw new TrainingException($"Mixed precision {precision} needs {type} matrix products, which the device {model.Device} does not run: {e.Message}", e);
        }
        return type;
    }

    /// <summary>
    /// The learning-rate factor of each parameter (<see cref="TrainerOptions.LayerwiseLrDecay"/>,
    /// <see cref="TrainerOptions.HeadLearningRate"/>); <c>null</c> when every parameter trains at the scheduled rate.
    /// </summary>
    public Func<string, double>? LearningRateScales =>
        Options.LayerwiseLrDecay is null && Options.HeadLearningRate is null
            ? null
            : LayerwiseLearningRates.Scales(_model.Config.NumHiddenLayers, Options.LayerwiseLrDecay,
                Options.HeadLearningRate is { } head ? head / Options.Optimizer.LearningRate : 1.0);

    /// <summary>Creates the optimizer the run uses over the model's trainable parameters (with <see cref="LearningRateScales"/>).</summary>
    public AdamW CreateOptimizer() =>
        new(_model.named_parameters().Where(p => p.parameter.requires_grad).ToList(), Options.Optimizer, LearningRateScales);

    // Class weights and label smoothing replace the model's loss by a cross-entropy, so only heads with one are allowed.
    private static void CheckLossOptions(DebertaPreTrainedModel model, TrainerOptions options)
    {
        if (options.ClassWeights is null && options.LabelSmoothing == 0) return;
        bool singleLabel = model.Head == HeadKind.TokenClassification ||
            (model.Head == HeadKind.SequenceClassification && model.Config.NumLabels > 1 &&
             model.Config.ProblemType is null or "single_label_classification");
        if (!singleLabel)
            throw new TrainingException(
                $"Class weights and label smoothing apply to a single-label cross-entropy (sequence or token classification); this {model.ArchitectureName} has problem_type '{model.Config.ProblemType ?? "none"}' with {model.Config.NumLabels} label(s).");
        if (options.ClassWeights is { } w && w.Count != model.Config.NumLabels)
            throw new TrainingException($"{w.Count} class weights given but the model has {model.Config.NumLabels} labels ({string.Join(", ", model.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value))}).");
    }

    /// <summary>The options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Optimizer steps per epoch (the last step of an epoch may accumulate fewer micro-batches).</summary>
    public int StepsPerEpoch { get; }

    /// <summary>Optimizer steps of the run.</summary>
    public long TotalSteps { get; }

    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>The metric that selects the best checkpoint, with its <c>eval_</c> prefix.</summary>
    public string MetricForBest { get; }

    /// <summary>Whether a larger <see cref="MetricForBest"/> is better.</summary>
    public bool GreaterIsBetter { get; }

    /// <summary>
    /// Trains, from scratch or from the checkpoint <paramref name="resumeFrom"/> (a <c>checkpoint-&lt;step&gt;</c> folder,
    /// or an output folder whose newest checkpoint is taken). Afterwards the model holds the best checkpoint's weights
    /// (or the last ones) and is in evaluation mode; it has been saved to the output folder.
    /// </summary>
    /// <exception cref="TrainingCanceledException">Cancelled: training stopped at a step boundary after writing a checkpoint.</exception>
    /// <exception cref="TrainingException">A non-finite loss, or a checkpoint made with other settings.</exception>
    /// <exception cref="CheckpointException">A checkpoint cannot be read or written.</exception>
    public TrainingResult Train(string? resumeFrom = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var device = _model.Device;
        string output = Path.GetFullPath(Options.OutputDirectory);
        Directory.CreateDirectory(output);
        using var optimizer = CreateOptimizer();

        TrainingState state;
        if (resumeFrom is not null)
        {
            string folder = File.Exists(Path.Combine(resumeFrom, TrainingState.FileName)) ? resumeFrom
                : TrainingCheckpoint.Latest(resumeFrom) ?? throw new CheckpointException($"No checkpoint-<step> folder with {TrainingState.FileName} under '{resumeFrom}' to resume from.");
            state = TrainingCheckpoint.Load(folder, _model, optimizer);
            CheckResumable(state, folder);
        }
        else
        {
            ClearEarlierRun(output);
            TrainingSeed.Set(Options.Seed);
            state = new TrainingState
            {
                Seed = Options.Seed,
                LearningRate = Options.Optimizer.LearningRate,
                Schedule = Schedule,
                MetricForBest = _eval is null ? null : MetricForBest,
                GreaterIsBetter = GreaterIsBetter,
            };
            Record(state);
        }

        void Report(TrainingEvent e, double? loss = null, double? lr = null, IReadOnlyDictionary<string, double>? metrics = null, string? checkpoint = null) =>
            progress?.Report(new TrainingProgress(e, state.GlobalStep, TotalSteps, FractionalEpoch(state), loss, lr, metrics, checkpoint, clock.Elapsed));

        GradScaler? scaler = null;
        if (Options.MixedPrecision == MixedPrecision.Float16)
        {
            scaler = new GradScaler(Options.LossScaling);
            if (resumeFrom is not null) scaler.Load(state.Extra.GetValueOrDefault(GradScalerKey), $"{TrainingState.FileName} of '{resumeFrom}'");
            state.Extra[GradScalerKey] = scaler.ToJson();
        }

        Report(TrainingEvent.Started);
        bool earlyStopped = state.Extra.TryGetValue("early_stopped", out var es) && es?.GetValue<bool>() == true;
        long lastSaved = -1;
        var parameters = optimizer.Parameters.ToList();
        using var classWeights = Options.ClassWeights is { } cw ? tensor(cw.Select(x => (float)x).ToArray(), ScalarType.Float32, device) : null;
        _model.train();

        while (state.GlobalStep < TotalSteps && !earlyStopped)
        {
            int epoch = state.Epoch;
            var batches = BatchPlan.ForEpoch(_train, Options.BatchSize, Options.Seed, epoch, Options.GroupByLength);
            var groups = batches.Chunk(Options.GradientAccumulationSteps).ToList();
            for (long g = state.StepInEpoch; g < groups.Count && state.GlobalStep < TotalSteps; g++)
            {
                var (loss, gradNorm, lr) = TrainStep(groups[(int)g], optimizer, parameters, classWeights, state, device, scaler);
                state.GlobalStep++;
                state.StepInEpoch = g + 1;
                if (g + 1 == groups.Count)
                {
                    state.Epoch = epoch + 1;     // the next step starts the next epoch
                    state.StepInEpoch = 0;
                }
                AddLoss(state, loss, gradNorm, lr, scaler?.Scale);
                Report(TrainingEvent.Step, loss, lr);

                bool atEvalPoint = Options.EvalSteps is { } every ? state.GlobalStep % every == 0 : g + 1 == groups.Count;
                if (atEvalPoint || state.GlobalStep == TotalSteps)
                {
                    var metrics = EvaluateAndRecord(state, Report);
                    earlyStopped = metrics is not null && ShouldStopEarly(state);
                    if (earlyStopped) state.Extra["early_stopped"] = true;
                    string checkpoint = Save(output, optimizer, state);
                    lastSaved = state.GlobalStep;
                    Report(TrainingEvent.CheckpointSaved, checkpoint: checkpoint);
                    if (earlyStopped)
                    {
                        Report(TrainingEvent.EarlyStopped, metrics: metrics);
                        break;
                    }
                }
                if (cancellationToken.IsCancellationRequested && state.GlobalStep < TotalSteps)
                {
                    string checkpoint = lastSaved == state.GlobalStep ? Path.Combine(output, TrainingCheckpoint.FolderName(state.GlobalStep)) : Save(output, optimizer, state);
                    Report(TrainingEvent.CheckpointSaved, checkpoint: checkpoint);
                    throw new TrainingCanceledException(checkpoint, state.GlobalStep, cancellationToken);
                }
            }
        }
        return Finish(output, state, earlyStopped, clock, Report);
    }

    /// <summary>Evaluates the model on <paramref name="data"/>: <c>eval_loss</c> and the task's metrics with an <c>eval_</c> prefix.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(FineTuningDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.CheckModel(_model);
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            var evaluator = data.CreateEvaluator();
            double lossSum = 0;
            long items = 0;
            using (Autocast.Enter(ComputeType))
            using (no_grad())
            {
                foreach (var batch in BatchPlan.ForEvaluation(data, Options.EvalBatchSize, Options.GroupByLength))
                {
                    using var scope = NewDisposeScope();
                    using var output = _model.Forward(data.Collate(batch, _model.Device));
                    if (output.Loss is { } loss)
                    {
                        lossSum += loss.to(ScalarType.Float64).item<double>() * batch.Length;
                        items += batch.Length;
                    }
                    evaluator.Add(batch, output);
                }
            }
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            if (items > 0) metrics["eval_loss"] = lossSum / items;
            foreach (var (k, v) in evaluator.Compute()) metrics["eval_" + k] = v;
            return metrics;
        }
        finally
        {
            if (wasTraining) _model.train();
        }
    }

    // One optimizer step over a group of micro-batches; returns the mean loss, the gradient norm and the learning rate used.
    // With a scaler (float16), a step whose gradients overflow is skipped: no optimizer step, no schedule step.
    private (double Loss, double? GradNorm, double LearningRate) TrainStep(int[][] group, AdamW optimizer, List<TorchSharp.Modules.Parameter> parameters,
        Tensor? classWeights, TrainingState state, Device device, GradScaler? scaler)
    {
        double lossSum = 0;
        using var precision = Autocast.Enter(ComputeType);
        bool ownLoss = classWeights is not null || Options.LabelSmoothing > 0;
        foreach (var batch in group)
        {
            using var scope = NewDisposeScope();
            var inputs = _train.Collate(batch, device);
            // With its own loss the trainer keeps the labels from the model, so the model does not compute HF's loss too.
            var labels = ownLoss ? inputs.Labels : null;
            using var output = _model.Forward(labels is null ? inputs : inputs with { Labels = null });
            var loss = (labels is not null && output.Logits is { } logits
                    ? WeightedCrossEntropy.Loss(logits, labels, classWeights, Options.LabelSmoothing)
                    : output.Loss)
                ?? throw new TrainingException($"The {_model.ArchitectureName} returned no loss: the batch has no labels.");
            double value = loss.to(ScalarType.Float64).item<double>();
            if (!double.IsFinite(value))
                throw new TrainingException($"The training loss became {value} at step {state.GlobalStep + 1} (epoch {state.Epoch + 1}); lower the learning rate or check the data.");
            lossSum += value;
            var mean = loss / group.Length;                 // the mean over the group's micro-batches
            (scaler is null ? mean : scaler.ScaleLoss(mean)).backward();
        }
        double lr = Options.Optimizer.LearningRate * Schedule.Factor(state.GlobalStep - (scaler?.SkippedSteps ?? 0));
        if (scaler is not null)
        {
            bool finite = scaler.Unscale(parameters);       // before clipping, so the threshold applies to the true gradients
            scaler.Update(finite);
            state.Extra[GradScalerKey] = scaler.ToJson();
            if (!finite)
            {
                optimizer.ZeroGrad();
                return (lossSum / group.Length, null, lr);
            }
        }
        double? norm = Options.MaxGradNorm > 0 ? GradientClipping.ClipGradNorm(parameters, Options.MaxGradNorm) : null;
        optimizer.LearningRate = lr;
        optimizer.Step();
        optimizer.ZeroGrad();
        return (lossSum / group.Length, norm, lr);
    }

    // Running sums kept in the state, so a resumed run logs and reports exactly what an uninterrupted one would.
    private void AddLoss(TrainingState state, double loss, double? gradNorm, double lr, double? lossScale)
    {
        double Get(string key) => state.Extra.TryGetValue(key, out var n) && n is not null ? n.GetValue<double>() : 0;
        state.Extra["loss_sum"] = Get("loss_sum") + loss;
        double sinceLog = Get("loss_since_log") + loss;
        double stepsSinceLog = Get("steps_since_log") + 1;
        if (state.GlobalStep % Options.LoggingSteps == 0 || state.GlobalStep == TotalSteps)
        {
            var values = new Dictionary<string, double> { ["loss"] = sinceLog / stepsSinceLog, ["learning_rate"] = lr };
            if (gradNorm is { } g) values["grad_norm"] = g;
            if (lossScale is { } scale) values["loss_scale"] = scale;
            state.LogHistory.Add(new LogEntry(state.GlobalStep, FractionalEpoch(state), values));
            sinceLog = 0;
            stepsSinceLog = 0;
        }
        state.Extra["loss_since_log"] = sinceLog;
        state.Extra["steps_since_log"] = stepsSinceLog;
    }

    private IReadOnlyDictionary<string, double>? EvaluateAndRecord(TrainingState state, Action<TrainingEvent, double?, double?, IReadOnlyDictionary<string, double>?, string?> report)
    {
        if (_eval is null) return null;
        report(TrainingEvent.EvaluationStarted, null, null, null, null);
        var metrics = Evaluate(_eval);
        state.LogHistory.Add(new LogEntry(state.GlobalStep, FractionalEpoch(state), metrics));
        if (!metrics.TryGetValue(MetricForBest, out double value))
            throw new TrainingException($"The metric for the best model '{MetricForBest}' is not among the evaluation metrics ({string.Join(", ", metrics.Keys)}).");
        bool improved = !double.IsNaN(value) && (state.BestMetric is not { } best ||
            (GreaterIsBetter ? value > best + Options.EarlyStoppingThreshold : value < best - Options.EarlyStoppingThreshold));
        bool better = !double.IsNaN(value) && (state.BestMetric is not { } b || (GreaterIsBetter ? value > b : value < b));
        if (better)
        {
            state.BestMetric = value;
            state.BestCheckpoint = Path.Combine(Path.GetFullPath(Options.OutputDirectory), TrainingCheckpoint.FolderName(state.GlobalStep));
        }
        state.EvaluationsWithoutImprovement = improved ? 0 : state.EvaluationsWithoutImprovement + 1;
        report(TrainingEvent.Evaluated, null, null, metrics, null);
        return metrics;
    }

    private bool ShouldStopEarly(TrainingState state) =>
        Options.EarlyStoppingPatience is { } patience && state.EvaluationsWithoutImprovement >= patience;

    private string Save(string output, AdamW optimizer, TrainingState state)
    {
        string folder = Path.Combine(output, TrainingCheckpoint.FolderName(state.GlobalStep));
        TrainingCheckpoint.Save(folder, _model, optimizer, state, Options.Tokenizer);
        if (_model.LoraOptions is not null) Adapters.Lora.SaveAdapter(_model, folder);      // the adapter alone, as PEFT reads it
        TrainingCheckpoint.Prune(output, Options.SaveTotalLimit, folder, state.BestCheckpoint);   // the newest SaveTotalLimit and the best
        return folder;
    }

    private void ClearEarlierRun(string output)
    {
        var earlier = Directory.GetDirectories(output, TrainingCheckpoint.FolderPrefix + "*");
        if (earlier.Length == 0) return;
        if (!Options.OverwriteOutputDirectory)
            throw new TrainingException(
                $"'{output}' already holds checkpoints of an earlier run ({string.Join(", ", earlier.Select(Path.GetFileName).Order())}): resume it, choose another output folder, or overwrite it.");
        foreach (var folder in earlier) TrainingCheckpoint.Delete(folder, "the checkpoint of an earlier run");
    }

    private TrainingResult Finish(string output, TrainingState state, bool earlyStopped, Stopwatch clock,
        Action<TrainingEvent, double?, double?, IReadOnlyDictionary<string, double>?, string?> report)
    {
        _model.eval();
        IReadOnlyDictionary<string, double>? evalMetrics = null;
        if (_eval is not null)
        {
            long step = state.GlobalStep;
            if (Options.LoadBestModelAtEnd && state.BestCheckpoint is { } best && Directory.Exists(best))
            {
                using (var weights = CheckpointReader.Open(best)) _model.LoadWeights(weights);
                step = TrainingCheckpoint.ReadState(best).GlobalStep;
            }
            evalMetrics = state.LogHistory.LastOrDefault(e => e.Step == step && e.Values.ContainsKey(MetricForBest))?.Values;
        }
        if (_model.LoraOptions is not null)
        {
            // A LoRA run leaves the adapter as PEFT writes it and, beside it, the merged model as a plain HF checkpoint.
            Adapters.Lora.SaveAdapter(_model, output);
            Adapters.Lora.SaveMerged(_model, output);
        }
        else
        {
            _model.SavePretrained(output);
        }
        Options.Tokenizer?.SavePretrained(output);

        double lossSum = state.Extra.TryGetValue("loss_sum", out var ls) && ls is not null ? ls.GetValue<double>() : double.NaN;
        var result = new TrainingResult
        {
            GlobalStep = state.GlobalStep,
            Epoch = FractionalEpoch(state),
            TrainLoss = state.GlobalStep == 0 ? double.NaN : lossSum / state.GlobalStep,
            EvalMetrics = evalMetrics,
            MetricForBestModel = _eval is null ? null : MetricForBest,
            BestMetric = state.BestMetric,
            BestCheckpoint = state.BestCheckpoint,
            EarlyStopped = earlyStopped,
            Runtime = clock.Elapsed,
            LogHistory = state.LogHistory,
            OutputDirectory = output,
            MetricsFile = Path.Combine(output, MetricsFileName),
        };
        AtomicFile.WriteAllText(result.MetricsFile, MetricsJson(result));
        report(TrainingEvent.Finished, null, null, evalMetrics, output);
        return result;
    }

    /// <summary>The JSON text of <c>metrics.json</c> (HF's <c>all_results.json</c> keys plus the log).</summary>
    private string MetricsJson(TrainingResult result)
    {
        static JsonNode? Number(double? v) => v is { } d ? (double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(CultureInfo.InvariantCulture))) : null;
        var eval = new JsonObject();
        foreach (var (k, v) in result.EvalMetrics ?? new Dictionary<string, double>()) eval[k] = Number(v);
        var history = new JsonArray();
        foreach (var entry in result.LogHistory)
        {
            var e = new JsonObject { ["step"] = entry.Step, ["epoch"] = entry.Epoch };
            foreach (var (k, v) in entry.Values) e[k] = Number(v);
            history.Add(e);
        }
        var root = new JsonObject
        {
            ["task"] = _train.Head.ToString(),
            ["architecture"] = _model.ArchitectureName,
            ["train_file"] = _train.Source,
            ["eval_file"] = _eval?.Source,
            ["train_items"] = _train.Count,
            ["eval_examples"] = _eval?.ExampleCount,
            ["global_step"] = result.GlobalStep,
            ["epoch"] = result.Epoch,
            ["train_loss"] = Number(result.TrainLoss),
            ["train_runtime_seconds"] = Math.Round(result.Runtime.TotalSeconds, 3),
            ["seed"] = Options.Seed,
            ["metric_for_best_model"] = result.MetricForBestModel,
            ["best_metric"] = Number(result.BestMetric),
            ["best_model_checkpoint"] = result.BestCheckpoint,
            ["early_stopped"] = result.EarlyStopped,
            ["eval"] = eval,
            ["log_history"] = history,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private double FractionalEpoch(TrainingState state) =>
        state.Epoch + (StepsPerEpoch == 0 ? 0 : (double)state.StepInEpoch / StepsPerEpoch);

    // The settings that fix the sequence of batches and learning rates; a resume must use the same ones.
    private Dictionary<string, JsonNode?> RunSettings()
    {
        var settings = BaseRunSettings();
        // Recorded only when used, so checkpoints of runs without them still resume.
        if (Options.LayerwiseLrDecay is { } decay) settings["layerwise_lr_decay"] = decay;
        if (Options.HeadLearningRate is { } head) settings["head_learning_rate"] = head;
        if (Options.ClassWeights is { } weights) settings["class_weights"] = new JsonArray([.. weights.Select(w => (JsonNode?)w)]);
        if (Options.LabelSmoothing != 0) settings["label_smoothing"] = Options.LabelSmoothing;
        if (Options.MixedPrecision != MixedPrecision.None) settings["mixed_precision"] = Options.MixedPrecision.ToString();
        if (Options.MixedPrecision == MixedPrecision.Float16)
            settings["loss_scaling"] = new JsonObject
            {
                ["init_scale"] = Options.LossScaling.InitScale, ["growth_factor"] = Options.LossScaling.GrowthFactor,
                ["backoff_factor"] = Options.LossScaling.BackoffFactor, ["growth_interval"] = Options.LossScaling.GrowthInterval,
            };
        return settings;
    }

    private Dictionary<string, JsonNode?> BaseRunSettings() => new(StringComparer.Ordinal)
    {
        ["task"] = _train.Head.ToString(),
        ["train_items"] = _train.Count,
        ["batch_size"] = Options.BatchSize,
        ["gradient_accumulation_steps"] = Options.GradientAccumulationSteps,
        ["total_steps"] = TotalSteps,
        ["warmup_steps"] = Schedule.WarmupSteps,
        ["schedule"] = Schedule.Kind.ToString(),
        ["learning_rate"] = Options.Optimizer.LearningRate,
        ["seed"] = Options.Seed,
        ["group_by_length"] = Options.GroupByLength,
    };

    private void Record(TrainingState state)
    {
        var settings = new JsonObject();
        foreach (var (k, v) in RunSettings()) settings[k] = v;
        state.Extra["run"] = settings;
    }

    private void CheckResumable(TrainingState state, string folder)
    {
        if (state.Extra.GetValueOrDefault("run") is not JsonObject saved)
            throw new CheckpointException($"'{folder}' was not written by the Trainer (its {TrainingState.FileName} has no run settings).");
        var differences = new List<string>();
        var current = RunSettings();
        foreach (var (key, now) in current)
        {
            var then = saved[key];
            if (!JsonNode.DeepEquals(then, now)) differences.Add($"{key} {then?.ToJsonString() ?? "missing"} then, {now?.ToJsonString()} now");
        }
        foreach (var (key, then) in saved)
            if (!current.ContainsKey(key)) differences.Add($"{key} {then?.ToJsonString()} then, not set now");
        if (differences.Count > 0)
            throw new TrainingException($"Cannot resume exactly from '{folder}': the run's settings differ ({string.Join("; ", differences)}). Use the same data and options, or start afresh.");
    }

    private static string NormaliseMetric(string name) =>
        name.StartsWith("eval_", StringComparison.Ordinal) ? name : "eval_" + name;
}
