namespace DebertaSharp.Training;

/// <summary>
/// Training was cancelled through its <see cref="CancellationToken"/>: it stopped at a step boundary and left a
/// resumable checkpoint in <see cref="Checkpoint"/> (pass it, or the output folder, as <c>resumeFrom</c>).
/// </summary>
public sealed class TrainingCanceledException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public TrainingCanceledException(string checkpoint, long globalStep, CancellationToken token)
        : base($"Training was cancelled after step {globalStep}; resume from '{checkpoint}'.", token)
    {
        Checkpoint = checkpoint;
        GlobalStep = globalStep;
    }

    /// <summary>The checkpoint written at the stop.</summary>
    public string Checkpoint { get; }

    /// <summary>Optimizer steps done when training stopped.</summary>
    public long GlobalStep { get; }
}
