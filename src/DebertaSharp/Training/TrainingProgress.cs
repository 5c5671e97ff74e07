namespace DebertaSharp.Training;

/// <summary>What a <see cref="TrainingProgress"/> report is about.</summary>
public enum TrainingEvent
{
    /// <summary>Training begins (or resumes).</summary>
    Started,

    /// <summary>An optimizer step finished.</summary>
    Step,

    /// <summary>An evaluation begins.</summary>
    EvaluationStarted,

    /// <summary>An evaluation finished; <see cref="TrainingProgress.Metrics"/> holds its metrics.</summary>
    Evaluated,

    /// <summary>A checkpoint was written; <see cref="TrainingProgress.Checkpoint"/> names it.</summary>
    CheckpointSaved,

    /// <summary>The metric stopped improving for the patience; training ends early.</summary>
    EarlyStopped,

    /// <summary>Training finished and the final model was saved.</summary>
    Finished,
}

/// <summary>A progress report of the <see cref="Trainer"/> (through <see cref="IProgress{T}"/>; no console involved).</summary>
/// <param name="Event">What happened.</param>
/// <param name="GlobalStep">Optimizer steps done.</param>
/// <param name="TotalSteps">Optimizer steps of the whole run.</param>
/// <param name="Epoch">Fractional epoch (epochs done + share of the current one).</param>
/// <param name="Loss">Training loss of the last step (for <see cref="TrainingEvent.Step"/>).</param>
/// <param name="LearningRate">Learning rate of the last step.</param>
/// <param name="Metrics">Evaluation metrics (<c>eval_loss</c>, <c>eval_accuracy</c> …) for <see cref="TrainingEvent.Evaluated"/>.</param>
/// <param name="Checkpoint">The checkpoint folder, for <see cref="TrainingEvent.CheckpointSaved"/>.</param>
/// <param name="Elapsed">Time since this Train call began.</param>
public sealed record TrainingProgress(
    TrainingEvent Event,
    long GlobalStep,
    long TotalSteps,
    double Epoch,
    double? Loss,
    double? LearningRate,
    IReadOnlyDictionary<string, double>? Metrics,
    string? Checkpoint,
    TimeSpan Elapsed);
