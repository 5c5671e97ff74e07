using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

[Collection(SerialTorchRng.Name)]
public class TrainingCheckpointTests
{
    private static (DebertaForSequenceClassification Model, AdamW Optimizer) TrainedTwoSteps(int seed)
    {
        TrainingSeed.Set(seed);
        var model = new DebertaForSequenceClassification(TinyModels.V3(numLabels: 3));
        model.train();
        var optimizer = new AdamW(model.named_parameters(), new AdamWOptions { LearningRate = 1e-3 });
        var ids = tensor(new long[,] { { 1, 5, 9, 2 }, { 1, 7, 2, 0 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 1 }, { 1, 1, 1, 0 } });
        for (int i = 0; i < 2; i++)
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            using var output = model.Forward(new DebertaInputs(ids) { AttentionMask = mask, Labels = tensor(new long[] { 2, 0 }) });
            output.Loss!.backward();
            optimizer.Step();
        }
        return (model, optimizer);
    }

    private static TrainingState SampleState() => new()
    {
        GlobalStep = 2,
        Epoch = 1,
        StepInEpoch = 1,
        Seed = 17,
        LearningRate = 1e-3,
        Schedule = new LearningRateSchedule(ScheduleKind.Cosine, 1, 10),
        MetricForBest = "eval_accuracy",
        BestMetric = 0.1 + 0.2,                       // not exactly representable in decimal: must round-trip anyway
        BestCheckpoint = "out/checkpoint-2",
        EvaluationsWithoutImprovement = 1,
        LogHistory = [new LogEntry(1, 0.5, new Dictionary<string, double> { ["loss"] = 1.25, ["learning_rate"] = 1e-3 }),
                      new LogEntry(2, 1.0, new Dictionary<string, double> { ["eval_accuracy"] = 0.30000000000000004, ["eval_mcc"] = double.NaN })],
        Extra = { ["task"] = "text-classification" },
    };

    [Fact]
    public void SaveThenLoadRestoresWeightsOptimizerRngAndState()
    {
        using var tmp = new TempDir();
        string folder = Path.Combine(tmp.Path, "checkpoint-2");
        var (model, optimizer) = TrainedTwoSteps(seed: 1);
        using var _m = model;
        using var _o = optimizer;
        TrainingCheckpoint.Save(folder, model, optimizer, SampleState());
        using var nextRandom = rand(5);   // what the run would draw next (dropout)

        Assert.Equal(["config.json", "model.safetensors", "optimizer.safetensors", "rng_state.safetensors", "trainer_state.json"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Single(Directory.GetFileSystemEntries(tmp.Path));   // no temporary folder left beside it

        // A different model and optimizer (other seed) become the saved ones.
        var (other, otherOptimizer) = TrainedTwoSteps(seed: 2);
        using var _x = other;
        using var _y = otherOptimizer;
        var state = TrainingCheckpoint.Load(folder, other, otherOptimizer);
        foreach (var ((name, a), (_, b)) in model.state_dict().Zip(other.state_dict()))
            Assert.True(a.eq(b).all().item<bool>(), $"weight {name} differs after load");
        foreach (var (key, a) in optimizer.StateDict())
            Assert.True(a.eq(otherOptimizer.StateDict()[key]).all().item<bool>(), $"optimizer {key} differs after load");
        Assert.Equal(optimizer.StepCount, otherOptimizer.StepCount);
        using var drawnAfterLoad = rand(5);
        Assert.True(nextRandom.eq(drawnAfterLoad).all().item<bool>(), "torch RNG not restored");

        var expected = SampleState();
        Assert.Equal(expected.GlobalStep, state.GlobalStep);
        Assert.Equal(expected.Epoch, state.Epoch);
        Assert.Equal(expected.StepInEpoch, state.StepInEpoch);
        Assert.Equal(expected.Seed, state.Seed);
        Assert.Equal(expected.Schedule, state.Schedule);
        Assert.Equal(expected.BestMetric, state.BestMetric);
        Assert.Equal(expected.BestCheckpoint, state.BestCheckpoint);
        Assert.Equal(expected.EvaluationsWithoutImprovement, state.EvaluationsWithoutImprovement);
        Assert.Equal(2, state.OptimizerStepCount);
        Assert.Equal(2, state.LogHistory.Count);
        Assert.Equal(1.25, state.LogHistory[0].Values["loss"]);
        Assert.True(double.IsNaN(state.LogHistory[1].Values["eval_mcc"]));
        Assert.Equal("text-classification", state.Extra["task"]!.GetValue<string>());
    }

    [Fact]
    public void CheckpointIsAnHfFolderThatLoadsWithFromPretrained()
    {
        using var tmp = new TempDir();
        var (model, optimizer) = TrainedTwoSteps(seed: 3);
        using var _m = model;
        using var _o = optimizer;
        TrainingCheckpoint.Save(tmp.Path + "/ckpt", model, optimizer, SampleState());
        using var loaded = AutoModel.FromPretrained(tmp.Path + "/ckpt");
        Assert.IsType<DebertaForSequenceClassification>(loaded);
        Assert.Empty(loaded.LoadReport!.Missing);
        Assert.Empty(loaded.LoadReport!.Unexpected);
        var config = JsonNode.Parse(File.ReadAllText(tmp.Path + "/ckpt/config.json"))!;
        Assert.Equal("DebertaV2ForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
    }

    [Fact]
    public void ASaveWithTheTokenizerReplacesTheCheckpointWhole()
    {
        using var tmp = new TempDir();
        string folder = Path.Combine(tmp.Path, "best");
        var (model, optimizer) = TrainedTwoSteps(seed: 4);
        using var _m = model;
        using var _o = optimizer;
        TrainingCheckpoint.Save(folder, model, optimizer, SampleState());

        // A save with the tokenizer writes it into the checkpoint (SavePretrained); the folder stays the only entry.
        var state = SampleState();
        state.GlobalStep = 99;
        var tokenizer = DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(DebertaSharp.Tests.Tokenization.GoldenData.Folder("tokenizer-v3"));
        TrainingCheckpoint.Save(folder, model, optimizer, state, tokenizer);
        Assert.Equal(tokenizer.Encode("Hello world").InputIds, DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(folder).Encode("Hello world").InputIds);
        Assert.Equal([folder], Directory.GetFileSystemEntries(tmp.Path));

        // A successful save replaces it whole.
        TrainingCheckpoint.Save(folder, model, optimizer, state);
        Assert.Equal(99, TrainingCheckpoint.ReadState(folder).GlobalStep);
        Assert.Equal([folder], Directory.GetFileSystemEntries(tmp.Path));
    }

    [Fact]
    public void LoadingIntoAnotherArchitectureOrABadFolderIsAClearError()
    {
        using var tmp = new TempDir();
        var (model, optimizer) = TrainedTwoSteps(seed: 5);
        using var _m = model;
        using var _o = optimizer;
        TrainingCheckpoint.Save(tmp.Path + "/c", model, optimizer, SampleState());

        using var tokenModel = new DebertaForTokenClassification(TinyModels.V3(numLabels: 3));
        using var tokenOptimizer = new AdamW(tokenModel.named_parameters(), new AdamWOptions());
        var e = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Load(tmp.Path + "/c", tokenModel, tokenOptimizer));
        Assert.Contains("pooler.dense.weight", e.Message);

        File.Delete(tmp.Path + "/c/optimizer.safetensors");
        Assert.Contains("optimizer.safetensors", Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Load(tmp.Path + "/c", model, optimizer)).Message);
        Assert.Contains("trainer_state.json", Assert.Throws<CheckpointException>(() => TrainingCheckpoint.ReadState(tmp.Path)).Message);
        File.WriteAllText(tmp.Path + "/c/trainer_state.json", "{\"global_step\": \"x\"}");
        Assert.Contains("'global_step' must be an integer", Assert.Throws<CheckpointException>(() => TrainingCheckpoint.ReadState(tmp.Path + "/c")).Message);
    }

    [Fact]
    public void LatestPicksTheHighestStep()
    {
        using var tmp = new TempDir();
        foreach (var step in new[] { 5, 40, 100 })
        {
            Directory.CreateDirectory(Path.Combine(tmp.Path, TrainingCheckpoint.FolderName(step)));
            if (step != 100) File.WriteAllText(Path.Combine(tmp.Path, TrainingCheckpoint.FolderName(step), "trainer_state.json"), "{}");
        }
        Directory.CreateDirectory(Path.Combine(tmp.Path, "checkpoint-best"));
        Assert.Equal(Path.Combine(tmp.Path, "checkpoint-40"), TrainingCheckpoint.Latest(tmp.Path));
        Assert.Null(TrainingCheckpoint.Latest(Path.Combine(tmp.Path, "nothing")));
    }
}
