namespace DebertaSharp.Training;

/// <summary>
/// Dynamic loss scaling of <see cref="MixedPrecision.Float16"/> training; the defaults are torch's
/// <c>torch.amp.GradScaler</c> defaults.
/// </summary>
public sealed record GradScalerOptions
{
    /// <summary>The scale of the first step.</summary>
    public double InitScale { get; init; } = 65536.0;

    /// <summary>The factor the scale grows by after <see cref="GrowthInterval"/> steps in a row without inf/NaN gradients.</summary>
    public double GrowthFactor { get; init; } = 2.0;

    /// <summary>The factor the scale shrinks by after a step with inf/NaN gradients (which is skipped).</summary>
    public double BackoffFactor { get; init; } = 0.5;

    /// <summary>Steps in a row without inf/NaN gradients before the scale grows.</summary>
    public int GrowthInterval { get; init; } = 2000;

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    /// <exception cref="TrainingException">A value out of range.</exception>
    public void Validate()
    {
        if (!(InitScale > 0) || double.IsInfinity(InitScale)) throw new TrainingException($"The initial loss scale must be a finite number > 0, got {InitScale}.");
        if (!(GrowthFactor > 1) || double.IsInfinity(GrowthFactor)) throw new TrainingException($"The loss-scale growth factor must be a finite number > 1, got {GrowthFactor}.");
        if (!(BackoffFactor > 0 && BackoffFactor < 1)) throw new TrainingException($"The loss-scale backoff factor must be in (0, 1), got {BackoffFactor}.");
        if (GrowthInterval < 1) throw new TrainingException($"The loss-scale growth interval must be at least 1, got {GrowthInterval}.");
    }
}
