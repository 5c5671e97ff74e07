using DebertaSharp.Training;

namespace DebertaSharp.Pretraining;

/// <summary>A finished <see cref="Pretrainer.Train"/> run (a cancelled one throws <see cref="TrainingCanceledException"/> instead).</summary>
public sealed record PretrainingResult
{
    /// <summary>Optimizer steps done in total (earlier runs included).</summary>
    public required long Steps { get; init; }

    /// <summary>Steps this call took (after resuming, the new ones only).</summary>
    public required long StepsThisRun { get; init; }

    /// <summary>The checkpoint it resumed from, if any.</summary>
    public string? ResumedFrom { get; init; }

    /// <summary>The last checkpoint written.</summary>
    public string? LastCheckpoint { get; init; }

    /// <summary>Where the final model was written (the output folder).</summary>
    public string? FinalModel { get; init; }

    /// <summary>The averaged log entries of the whole run (earlier runs included).</summary>
    public required IReadOnlyList<LogEntry> LogHistory { get; init; }

    /// <summary>Wall time of this call in seconds.</summary>
    public required double Seconds { get; init; }

    /// <summary>Non-padding tokens trained on in this call.</summary>
    public required long Tokens { get; init; }
}
