using DebertaSharp.Training;

namespace DebertaSharp.Pretraining;

/// <summary>
/// Settings of a pre-training run. The defaults follow the DeBERTa papers' pre-training recipe where it applies
/// (AdamW β₂ 0.98, ε 1e-6, weight decay 0.01, linear warm-up and decay, gradient clipping at 1, λ = 50 for RTD) and
/// are sized for a small run otherwise.
/// </summary>
public sealed record PretrainingOptions
{
    /// <summary>Sequences per optimizer step.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Tokens per sequence, <c>[CLS]</c> and <c>[SEP]</c> included; longer lines become several examples.</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>Optimizer steps of the run (epochs repeat until then).</summary>
    public long MaxSteps { get; init; } = 1000;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Steps of linear warm-up.</summary>
    public long WarmupSteps { get; init; }

    /// <summary>Shape of the learning-rate schedule after warm-up.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Linear;

    /// <summary>AdamW β₁.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β₂ (0.98 in the DeBERTa pre-training setup).</summary>
    public double Beta2 { get; init; } = 0.98;

    /// <summary>AdamW ε.</summary>
    public double Epsilon { get; init; } = 1e-6;

    /// <summary>Decoupled weight decay (HF's no-decay rule for biases and LayerNorm).</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Gradient-norm clipping per part (generator and discriminator separately); 0 turns it off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>λ, the weight of the replaced-token-detection loss (50 in the DeBERTa-v3 paper).</summary>
    public double RtdWeight { get; init; } = 50;

    /// <summary>Write a checkpoint every this many steps (and always at the end and on cancellation).</summary>
    public long SaveSteps { get; init; } = 500;

    /// <summary>Keep only the newest this many checkpoints; <c>null</c> keeps all.</summary>
    public int? SaveTotalLimit { get; init; }

    /// <summary>Add an averaged entry to the log history every this many steps.</summary>
    public long LogSteps { get; init; } = 10;

    /// <summary>Seed of weight initialisation, dropout, sampling, data order and masking.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Examples held by the shuffle buffer (1 keeps corpus order).</summary>
    public int ShuffleBuffer { get; init; } = 10_000;

    /// <summary>
    /// How targets are chosen and corrupted; <c>null</c> means the objective's default: 80/10/10 for MLM and all
    /// <c>[MASK]</c> for RTD (<see cref="MaskingOptions.AllMask"/>), as the original tasks do.
    /// </summary>
    public MaskingOptions? Masking { get; init; }

    /// <summary>The masking an objective uses when <see cref="Masking"/> is not set.</summary>
    public MaskingOptions EffectiveMasking(PretrainingObjective objective) =>
        Masking ?? (objective == PretrainingObjective.Rtd ? MaskingOptions.AllMask : new MaskingOptions());

    /// <summary>Checks every value; the message names the first bad one.</summary>
    /// <exception cref="TrainingException">A value out of range.</exception>
    public void Validate()
    {
        if (BatchSize < 1) throw new TrainingException($"Batch size must be at least 1, got {BatchSize}.");
        if (MaxLength < 3) throw new TrainingException($"Maximum length must be at least 3 ([CLS] text [SEP]), got {MaxLength}.");
        if (MaxSteps < 1) throw new TrainingException($"Maximum steps must be at least 1, got {MaxSteps}.");
        if (SaveSteps < 1) throw new TrainingException($"Checkpoint interval must be at least 1 step, got {SaveSteps}.");
        if (LogSteps < 1) throw new TrainingException($"Log interval must be at least 1 step, got {LogSteps}.");
        if (SaveTotalLimit is < 1) throw new TrainingException($"The number of checkpoints to keep must be at least 1, got {SaveTotalLimit}.");
        if (!(MaxGradNorm >= 0) || double.IsInfinity(MaxGradNorm)) throw new TrainingException($"Maximum gradient norm must be ≥ 0 and finite, got {MaxGradNorm}.");
        if (!(RtdWeight > 0) || double.IsInfinity(RtdWeight)) throw new TrainingException($"The RTD loss weight λ must be positive and finite, got {RtdWeight}.");
        if (ShuffleBuffer < 1) throw new TrainingException($"Shuffle buffer must be at least 1, got {ShuffleBuffer}.");
        new LearningRateSchedule(Schedule, WarmupSteps, MaxSteps).Validate();
        AdamW().Validate();
        Masking?.Validate();
    }

    /// <summary>The optimizer settings.</summary>
    public AdamWOptions AdamW() => new()
    {
        LearningRate = LearningRate,
        Beta1 = Beta1,
        Beta2 = Beta2,
        Epsilon = Epsilon,
        WeightDecay = WeightDecay,
    };
}
