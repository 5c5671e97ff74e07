namespace DebertaSharp.Training;

/// <summary>The outcome of <see cref="Trainer.Train"/>.</summary>
public sealed record TrainingResult
{
    /// <summary>Optimizer steps taken in all (over resumed runs too).</summary>
    public required long GlobalStep { get; init; }

    /// <summary>Fractional epochs done.</summary>
    public required double Epoch { get; init; }

    /// <summary>Mean training loss over all steps.</summary>
    public required double TrainLoss { get; init; }

    /// <summary>The evaluation metrics of the returned model (the best checkpoint's when it was loaded), or <c>null</c> without evaluation data.</summary>
    public IReadOnlyDictionary<string, double>? EvalMetrics { get; init; }

    /// <summary>The metric that picked the best checkpoint (e.g. <c>eval_accuracy</c>).</summary>
    public string? MetricForBestModel { get; init; }

    /// <summary>Its best value.</summary>
    public double? BestMetric { get; init; }

    /// <summary>The best checkpoint's folder.</summary>
    public string? BestCheckpoint { get; init; }

    /// <summary>Whether early stopping ended the run.</summary>
    public bool EarlyStopped { get; init; }

    /// <summary>Wall-clock time of this call.</summary>
    public required TimeSpan Runtime { get; init; }

    /// <summary>The whole training log (losses, learning rates, evaluations).</summary>
    public required IReadOnlyList<LogEntry> LogHistory { get; init; }

    /// <summary>The folder of the final model (HF layout) and <c>metrics.json</c>.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The <c>metrics.json</c> written.</summary>
    public required string MetricsFile { get; init; }
}
