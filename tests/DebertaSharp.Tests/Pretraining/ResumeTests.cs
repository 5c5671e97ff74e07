using DebertaSharp.Pretraining;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using DebertaSharp.Training;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pretraining;

/// <summary>An interrupted run continued from its checkpoint ends with the weights of an uninterrupted run.</summary>
[Collection(SerialTorchRng.Name)]
public class ResumeTests
{
    // 12 steps of 8 sequences cross the epoch boundary of the sample corpus (~75 examples of ≤ 32 tokens per epoch).
    private static PretrainingOptions Options => new()
    {
        MaxSteps = 12, BatchSize = 8, MaxLength = 32, LearningRate = 2e-3, WarmupSteps = 2, SaveSteps = 4, LogSteps = 3, Seed = 17,
        ShuffleBuffer = 32,
    };

    private static Dictionary<string, Tensor> Uninterrupted(PretrainingObjective objective, string output)
    {
        using var model = TinyPretraining.Build(objective, seed: 5);
        TinyPretraining.Trainer(model, output, Options).Train();
        return TinyPretraining.Weights(model);
    }

    /// <summary>Continues from <paramref name="checkpoint"/> with a model built from another seed, so nothing but the checkpoint can make it match.</summary>
    private static (Dictionary<string, Tensor> Weights, PretrainingResult Result) Resume(PretrainingObjective objective, string output, string checkpoint)
    {
        using var model = TinyPretraining.Build(objective, seed: 1234);
        var log = new ProgressLog();
        var result = TinyPretraining.Trainer(model, output, Options).Train(checkpoint, log);
        Assert.Equal(PretrainingEvent.Resumed, log.Reports[0].Event);
        return (TinyPretraining.Weights(model), result);
    }

    private static void AssertSameWeights(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, tensor) in expected)
            Assert.True(tensor.eq(actual[name]).all().item<bool>(), $"{name} differs by up to {(tensor - actual[name]).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(PretrainingObjective.Mlm)]
    [InlineData(PretrainingObjective.Rtd)]
    public void CancellingMidRunThenResumingGivesTheUninterruptedWeights(PretrainingObjective objective)
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        var expected = Uninterrupted(objective, Path.Combine(tmp.Path, "straight"));

        string output = Path.Combine(tmp.Path, "interrupted");
        using var cancel = new CancellationTokenSource();
        TrainingCanceledException stopped;
        using (var model = TinyPretraining.Build(objective, seed: 5))
        {
            var log = new ProgressLog(r => { if (r.Event == PretrainingEvent.Step && r.Step == 7) cancel.Cancel(); });
            // The Trainer's contract: a cancelled run throws, naming the step and the checkpoint it left.
            stopped = Assert.Throws<TrainingCanceledException>(() => TinyPretraining.Trainer(model, output, Options).Train(progress: log, cancellationToken: cancel.Token));
            Assert.Equal(PretrainingEvent.Cancelled, log.Reports[^1].Event);
            Assert.Equal(stopped.Checkpoint, log.Reports[^1].Checkpoint);
        }
        Assert.Equal(7, stopped.GlobalStep);
        Assert.Equal(cancel.Token, stopped.CancellationToken);
        Assert.Equal(Path.Combine(output, "checkpoint-7"), stopped.Checkpoint);
        Assert.Equal(stopped.Checkpoint, Pretrainer.LatestCheckpoint(output));
        Assert.False(File.Exists(Path.Combine(output, "config.json")));   // no final model yet
        Assert.False(File.Exists(Path.Combine(output, "discriminator", "config.json")));

        var (actual, resumed) = Resume(objective, output, stopped.Checkpoint);
        Assert.Equal(5, resumed.StepsThisRun);
        Assert.Equal(12, resumed.Steps);
        AssertSameWeights(expected, actual);
        Assert.Equal([3L, 6, 9, 12], resumed.LogHistory.Select(e => e.Step));
    }

    [Theory]
    [InlineData(PretrainingObjective.Mlm)]
    [InlineData(PretrainingObjective.Rtd)]
    public void AKilledRunResumesFromItsLastPeriodicCheckpoint(PretrainingObjective objective)
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        var expected = Uninterrupted(objective, Path.Combine(tmp.Path, "straight"));

        // The process "dies" during step 11's report: no checkpoint is written on the way out.
        string output = Path.Combine(tmp.Path, "killed");
        using (var model = TinyPretraining.Build(objective, seed: 5))
        {
            var log = new ProgressLog(r => { if (r.Event == PretrainingEvent.Step && r.Step == 11) throw new OperationCanceledException("killed"); });
            Assert.Throws<OperationCanceledException>(() => TinyPretraining.Trainer(model, output, Options).Train(progress: log));
        }
        string latest = Pretrainer.LatestCheckpoint(output)!;
        Assert.Equal(Path.Combine(output, "checkpoint-8"), latest);
        Assert.Equal(8, TrainingCheckpoint.ReadState(latest).GlobalStep);

        var (actual, _) = Resume(objective, output, latest);
        AssertSameWeights(expected, actual);
    }

    [Fact]
    public void ResumingWithOtherDataSettingsIsRefused()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        using (var model = TinyPretraining.Build(PretrainingObjective.Mlm, seed: 5))
            TinyPretraining.Trainer(model, tmp.Path, Options with { MaxSteps = 4 }).Train();
        using var other = TinyPretraining.Build(PretrainingObjective.Mlm, seed: 5);
        var ex = Assert.Throws<TrainingException>(() =>
            TinyPretraining.Trainer(other, tmp.Path, Options with { BatchSize = 4 }).Train(resumeFrom: Path.Combine(tmp.Path, "checkpoint-4")));
        Assert.Contains("batch_size 8 (this run: 4)", ex.Message);

        using var rtd = TinyPretraining.Build(PretrainingObjective.Rtd, seed: 5);
        ex = Assert.Throws<TrainingException>(() =>
            TinyPretraining.Trainer(rtd, tmp.Path, Options).Train(resumeFrom: Path.Combine(tmp.Path, "checkpoint-4")));
        Assert.Contains("objective mlm (this run: rtd)", ex.Message);
    }
}
