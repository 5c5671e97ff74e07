namespace DebertaSharp.Pretraining;

/// <summary>What a <see cref="PretrainingProgress"/> report is about.</summary>
public enum PretrainingEvent
{
    /// <summary>A fresh run starts (step 0).</summary>
    Started,

    /// <summary>A run continues from a checkpoint (<see cref="PretrainingProgress.Checkpoint"/>).</summary>
    Resumed,

    /// <summary>An optimizer step finished.</summary>
    Step,

    /// <summary>A checkpoint was written (<see cref="PretrainingProgress.Checkpoint"/>).</summary>
    Checkpoint,

    /// <summary>The run stopped on cancellation after writing a checkpoint.</summary>
    Cancelled,

    /// <summary>The run reached its last step and wrote the final model.</summary>
    Finished,
}

/// <summary>A progress report of <see cref="Pretrainer.Train"/>, sent synchronously from the training thread.</summary>
public sealed record PretrainingProgress
{
    /// <summary>What happened.</summary>
    public required PretrainingEvent Event { get; init; }

    /// <summary>Optimizer steps done.</summary>
    public required long Step { get; init; }

    /// <summary>Steps of the whole run.</summary>
    public required long MaxSteps { get; init; }

    /// <summary>The epoch (0-based) the last step belonged to.</summary>
    public required int Epoch { get; init; }

    /// <summary>The step's total loss (MLM, or MLM + λ·RTD).</summary>
    public double? Loss { get; init; }

    /// <summary>The step's (generator's) masked-LM loss.</summary>
    public double? MlmLoss { get; init; }

    /// <summary>The step's discriminator loss (RTD only).</summary>
    public double? RtdLoss { get; init; }

    /// <summary>The step's MLM accuracy at the targets.</summary>
    public double? MlmAccuracy { get; init; }

    /// <summary>The step's discriminator accuracy over tokens (RTD only).</summary>
    public double? RtdAccuracy { get; init; }

    /// <summary>The learning rate the step used.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Gradient norm before clipping, per part (MLM model, or generator then discriminator).</summary>
    public IReadOnlyList<double>? GradientNorms { get; init; }

    /// <summary>Non-padding tokens per second over the run so far (this process).</summary>
    public double? TokensPerSecond { get; init; }

    /// <summary>The checkpoint folder written or resumed from.</summary>
    public string? Checkpoint { get; init; }
}
