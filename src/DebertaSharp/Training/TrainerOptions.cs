using DebertaSharp.Tokenization;
namespace DebertaSharp.Training;

/// <summary>
/// Settings of a <see cref="Trainer"/> run. The defaults follow HF's <c>TrainingArguments</c> (epochs 3, linear
/// schedule, no accumulation, β₁ 0.9, β₂ 0.999, HF's no-decay rule) except where DeBERTa's own fine-tuning recipes
/// (the DeBERTa repository's GLUE scripts and papers) differ, which the defaults follow instead: learning rate 2e-5
/// (HF 5e-5), batch size 16 (HF 8), and in <see cref="AdamWOptions"/> ε 1e-6 (HF 1e-8) and weight decay 0.01 (HF 0).
/// Each differing property says so; set it to HF's value to reproduce a run made with <c>TrainingArguments</c>' defaults.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Where checkpoints (<c>checkpoint-&lt;step&gt;</c>), the final model and <c>metrics.json</c> go.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Passes over the training data (ignored when <see cref="MaxSteps"/> is set).</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Optimizer steps to take in all; overrides <see cref="Epochs"/> when set.</summary>
    public long? MaxSteps { get; init; }

    /// <summary>
    /// Items per training batch (per micro-batch when accumulating). Default 16, the batch of DeBERTa's base-size GLUE
    /// recipes; HF's <c>per_device_train_batch_size</c> default is 8.
    /// </summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Items per evaluation batch.</summary>
    public int EvalBatchSize { get; init; } = 32;

    /// <summary>Micro-batches whose gradients add up to one optimizer step.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>
    /// The optimizer; its learning rate is the peak the schedule scales. Default: <see cref="AdamWOptions"/>' defaults,
    /// learning rate 2e-5 (DeBERTa's base-size recipes; HF's <c>learning_rate</c> default is 5e-5) — the same rate a
    /// <c>new AdamWOptions { … }</c> that sets other fields carries.
    /// </summary>
    public AdamWOptions Optimizer { get; init; } = new();

    /// <summary>The learning-rate shape after warm-up.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Linear;

    /// <summary>Warm-up as a share of all steps (used when <see cref="WarmupSteps"/> is not set).</summary>
    public double WarmupRatio { get; init; }

    /// <summary>Warm-up steps; overrides <see cref="WarmupRatio"/>.</summary>
    public long? WarmupSteps { get; init; }

    /// <summary>Gradient-norm clipping threshold; 0 or less turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>
    /// Layer-wise learning-rate decay in (0, 1], e.g. 0.8: the top encoder layer trains at the scheduled rate and each
    /// lower layer at <c>decay</c> times the one above; the embeddings (and the encoder's shared relative-position table)
    /// at <c>decay^layers</c> (<see cref="LayerwiseLearningRates.Depth"/>). <c>null</c> (default) gives every layer the same rate.
    /// </summary>
    public double? LayerwiseLrDecay { get; init; }

    /// <summary>Peak learning rate of the task head (everything outside the encoder); <c>null</c> uses <see cref="AdamWOptions.LearningRate"/>.</summary>
    public double? HeadLearningRate { get; init; }

    /// <summary>
    /// Per-class weights of the cross-entropy training loss (single-label sequence or token classification), one per
    /// label in class order; <c>null</c> for none. The evaluation loss stays the model's own unweighted loss.
    /// </summary>
    public IReadOnlyList<double>? ClassWeights { get; init; }

    /// <summary>
    /// Label smoothing ε in [0, 1) of the cross-entropy training loss (torch's <c>label_smoothing</c>: the target is
    /// (1 − ε)·one-hot + ε/classes); 0 (default) for none. The evaluation loss stays the model's own.
    /// </summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// The precision of the matrix products (<see cref="Training.MixedPrecision"/>): with bfloat16 or float16 every dense
    /// layer of the model runs in it during training and evaluation (<see cref="Modeling.Autocast"/>), while the model's
    /// float32 weights stay the master copy and AdamW's state, LayerNorm, softmax and the losses stay float32. The model
    /// must be float32. Default <see cref="MixedPrecision.None"/>.
    /// </summary>
    public MixedPrecision MixedPrecision { get; init; } = MixedPrecision.None;

    /// <summary>The dynamic loss scaling of <see cref="MixedPrecision.Float16"/> runs (unused otherwise).</summary>
    public GradScalerOptions LossScaling { get; init; } = new();

    /// <summary>Seeds dropout (torch) and the data order. Seed before building the model too (<see cref="TrainingSeed.Set"/>) for a reproducible initialisation.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Evaluate (and save a checkpoint) every this many steps; <c>null</c> at the end of each epoch.</summary>
    public long? EvalSteps { get; init; }

    /// <summary>Add a training-loss entry to the log every this many steps.</summary>
    public int LoggingSteps { get; init; } = 10;

    /// <summary>The metric that picks the best checkpoint (<c>accuracy</c>, <c>eval_f1</c>, <c>loss</c> …); <c>null</c> for the task's default.</summary>
    public string? MetricForBestModel { get; init; }

    /// <summary>Whether a larger metric is better; <c>null</c> to infer (smaller for names ending in <c>loss</c> or <c>mse</c>).</summary>
    public bool? GreaterIsBetter { get; init; }

    /// <summary>At the end, put the best checkpoint's weights back into the model (when there was an evaluation).</summary>
    public bool LoadBestModelAtEnd { get; init; } = true;

    /// <summary>Stop after this many evaluations without improvement; <c>null</c> never stops early.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>How much the metric must improve to count as an improvement.</summary>
    public double EarlyStoppingThreshold { get; init; }

    /// <summary>Bucket training batches by length (less padding; see <see cref="Data.BatchPlan"/>).</summary>
    public bool GroupByLength { get; init; }

    /// <summary>How many of the newest checkpoints to keep (the best one is always kept).</summary>
    public int SaveTotalLimit { get; init; } = 2;

    /// <summary>
    /// A fresh run (not a resume) into an output folder that already holds <c>checkpoint-&lt;step&gt;</c> folders deletes
    /// them when true; when false it refuses to start, so an earlier run is not mixed up with this one.
    /// </summary>
    public bool OverwriteOutputDirectory { get; init; }

    /// <summary>
    /// The tokenizer saved (<see cref="DebertaTokenizerBase.SavePretrained"/>) into every checkpoint and the final model, so each
    /// folder is self-contained, as HF's Trainer does with its <c>tokenizer</c>; <c>null</c> saves none.
    /// </summary>
    public DebertaTokenizerBase? Tokenizer { get; init; }

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    /// <exception cref="TrainingException">A value out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new TrainingException("An output directory is required.");
        if (MaxSteps is null && Epochs < 1) throw new TrainingException($"Epochs must be at least 1, got {Epochs}.");
        if (MaxSteps is < 1) throw new TrainingException($"Max steps must be at least 1, got {MaxSteps}.");
        if (BatchSize < 1) throw new TrainingException($"Batch size must be at least 1, got {BatchSize}.");
        if (EvalBatchSize < 1) throw new TrainingException($"Evaluation batch size must be at least 1, got {EvalBatchSize}.");
        if (GradientAccumulationSteps < 1) throw new TrainingException($"Gradient accumulation steps must be at least 1, got {GradientAccumulationSteps}.");
        if (!(WarmupRatio >= 0 && WarmupRatio <= 1)) throw new TrainingException($"Warm-up ratio must be in [0, 1], got {WarmupRatio}.");
        if (WarmupSteps is < 0) throw new TrainingException($"Warm-up steps must be ≥ 0, got {WarmupSteps}.");
        if (EvalSteps is < 1) throw new TrainingException($"Evaluation steps must be at least 1, got {EvalSteps}.");
        if (LoggingSteps < 1) throw new TrainingException($"Logging steps must be at least 1, got {LoggingSteps}.");
        if (EarlyStoppingPatience is < 1) throw new TrainingException($"Early-stopping patience must be at least 1, got {EarlyStoppingPatience}.");
        if (SaveTotalLimit < 1) throw new TrainingException($"Save total limit must be at least 1, got {SaveTotalLimit}.");
        if (double.IsNaN(MaxGradNorm)) throw new TrainingException("Max gradient norm is NaN.");
        if (LayerwiseLrDecay is { } d && !(d > 0 && d <= 1)) throw new TrainingException($"Layer-wise learning-rate decay must be in (0, 1], got {d}.");
        if (HeadLearningRate is { } h && (!(h >= 0) || double.IsInfinity(h))) throw new TrainingException($"Head learning rate must be a finite number ≥ 0, got {h}.");
        if (HeadLearningRate is not null && !(Optimizer.LearningRate > 0)) throw new TrainingException("A head learning rate needs a base learning rate > 0 (the head's is kept as a factor of it).");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new TrainingException($"Label smoothing must be in [0, 1), got {LabelSmoothing}.");
        if (ClassWeights is { } w && (w.Count == 0 || w.Any(x => !(x >= 0) || double.IsInfinity(x))))
            throw new TrainingException($"Class weights must be finite numbers ≥ 0, one per label; got [{string.Join(", ", w)}].");
        if (!Enum.IsDefined(MixedPrecision)) throw new TrainingException($"Mixed precision must be None, BFloat16 or Float16, got {(int)MixedPrecision}.");
        ArgumentNullException.ThrowIfNull(LossScaling);
        LossScaling.Validate();
        Optimizer.Validate();
    }
}
