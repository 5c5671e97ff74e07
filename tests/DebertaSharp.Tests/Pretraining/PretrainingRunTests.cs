using DebertaSharp.Configuration;
using DebertaSharp.Pretraining;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pretraining;

/// <summary>Synchronous progress sink (System.Progress posts to the thread pool).</summary>
internal sealed class ProgressLog(Action<PretrainingProgress>? onReport = null) : IProgress<PretrainingProgress>
{
    public List<PretrainingProgress> Reports { get; } = [];

    public IEnumerable<PretrainingProgress> Steps => Reports.Where(r => r.Event == PretrainingEvent.Step);

    public void Report(PretrainingProgress value)
    {
        Reports.Add(value);
        onReport?.Invoke(value);
    }
}

/// <summary>
/// Runs torch on one intra-op thread until disposed: a hidden-32 model gains nothing from more, and on a busy machine
/// two spinning threads made each step ten times slower. Only for tests of the serial collection (the setting is global).
/// </summary>
internal sealed class SingleTorchThread : IDisposable
{
    private readonly int _before = get_num_threads();

    public SingleTorchThread() => set_num_threads(1);

    public void Dispose() => set_num_threads(_before);
}

/// <summary>Builds tiny pre-training runs on the sample corpus and config of <c>samples/pretraining</c>.</summary>
internal static class TinyPretraining
{
    public static readonly DebertaTokenizerBase Tokenizer = AutoTokenizer.FromPretrained(PretrainingSamples.TinyV3);

    public static DebertaConfig Config() => DebertaConfig.FromPretrained(PretrainingSamples.TinyV3);

    public static PretrainingModel Build(PretrainingObjective objective, int seed, double rtdWeight = 50)
    {
        TrainingSeed.Set(seed);
        return objective == PretrainingObjective.Mlm
            ? MlmPretrainingModel.Create(Config())
            : RtdPretrainingModel.Create(Config(), rtdWeight: rtdWeight);
    }

    public static Pretrainer Trainer(PretrainingModel model, string output, PretrainingOptions options) =>
        new(model, Tokenizer, new TextCorpus([PretrainingSamples.Corpus]), output, options);

    /// <summary>Every parameter and buffer of every part, by part folder and name.</summary>
    public static Dictionary<string, Tensor> Weights(PretrainingModel model) =>
        model.Parts.SelectMany(p => p.Model.state_dict().Select(kv => ($"{p.Folder}/{kv.Key}", kv.Value.detach().clone())))
            .ToDictionary(x => x.Item1, x => x.Item2);
}

/// <summary>The pre-training loop: losses fall on the tiny corpus, checkpoints are HF folders, and resuming is exact.</summary>
[Collection(SerialTorchRng.Name)]
public class PretrainingRunTests
{
    private static double Mean(IEnumerable<double> values) => values.Average();

    [Fact]
    public void MlmWithEnhancedMaskDecoderLossFallsOnTheTinyCorpus()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        using var model = TinyPretraining.Build(PretrainingObjective.Mlm, 1);
        Assert.True(((MlmPretrainingModel)model).Model.UseEnhancedMaskDecoder);
        var log = new ProgressLog();
        var options = new PretrainingOptions { MaxSteps = 40, BatchSize = 16, MaxLength = 48, LearningRate = 3e-3, WarmupSteps = 4, SaveSteps = 100, LogSteps = 10, Seed = 3 };
        var result = TinyPretraining.Trainer(model, tmp.Path, options).Run(log);

        Assert.True(result.Completed);
        Assert.Equal(40, result.Steps);
        var losses = log.Steps.Select(s => s.MlmLoss!.Value).ToList();
        double first = Mean(losses.Take(5)), last = Mean(losses.TakeLast(5));
        Assert.True(first > 6.0, $"the first losses ({first:F3}) should be near ln(1001) = 6.9");
        Assert.True(last < first - 1.5, $"MLM loss did not fall: first {first:F3}, last {last:F3}");
        Assert.Equal(4, result.LogHistory.Count);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(tmp.Path, "spm.model")));
    }

    [Fact]
    public void ReplacedTokenDetectionLossesFallOnTheTinyCorpus()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        using var model = TinyPretraining.Build(PretrainingObjective.Rtd, 2);
        var log = new ProgressLog();
        var options = new PretrainingOptions { MaxSteps = 40, BatchSize = 16, MaxLength = 48, LearningRate = 3e-3, WarmupSteps = 4, SaveSteps = 100, Seed = 4 };
        var result = TinyPretraining.Trainer(model, tmp.Path, options).Run(log);

        Assert.True(result.Completed);
        var steps = log.Steps.ToList();
        double mlmFirst = Mean(steps.Take(5).Select(s => s.MlmLoss!.Value)), mlmLast = Mean(steps.TakeLast(5).Select(s => s.MlmLoss!.Value));
        double rtdFirst = Mean(steps.Take(5).Select(s => s.RtdLoss!.Value)), rtdLast = Mean(steps.TakeLast(5).Select(s => s.RtdLoss!.Value));
        Assert.True(mlmLast < mlmFirst - 1.0, $"generator MLM loss did not fall: {mlmFirst:F3} → {mlmLast:F3}");
        Assert.True(rtdLast < rtdFirst - 0.15, $"discriminator loss did not fall: {rtdFirst:F3} → {rtdLast:F3}");
        // Within 1e-4, not "equal to 4 decimal places": rounding both sides splits values one float32 ulp apart (seen: 24.9063507 vs 24.9063492).
        Assert.All(steps, s => Assert.Equal(s.MlmLoss!.Value + 50 * s.RtdLoss!.Value, s.Loss!.Value, tolerance: 1e-4));
        Assert.All(steps, s => Assert.Equal(2, s.GradientNorms!.Count));
        Assert.True(File.Exists(Path.Combine(tmp.Path, "generator", "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(tmp.Path, "discriminator", "model.safetensors")));
    }

    [Theory]
    [InlineData(PretrainingObjective.Mlm)]
    [InlineData(PretrainingObjective.Rtd)]
    public void TrainingStepsLeaveNoLiveTensors(PretrainingObjective objective)
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        using var model = TinyPretraining.Build(objective, 6);
        var options = new PretrainingOptions { MaxSteps = 2, BatchSize = 4, MaxLength = 24, SaveSteps = 100, Seed = 1 };
        TinyPretraining.Trainer(model, Path.Combine(tmp.Path, "warm-up"), options).Run();

        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        TinyPretraining.Trainer(model, Path.Combine(tmp.Path, "run"), options with { MaxSteps = 12, SaveSteps = 5 }).Run();
        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
    }
}
