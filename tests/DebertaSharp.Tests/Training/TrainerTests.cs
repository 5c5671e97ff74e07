using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

[Collection(SerialTorchRng.Name)]
public class TrainerTests
{
    private static readonly string[] Positive = ["permission is hereby granted", "free of charge", "you may copy and distribute", "the right to use"];
    private static readonly string[] Negative = ["without warranty of any kind", "in no event shall the authors be liable", "no liability", "provided as is"];

    /// <summary>A small two-class CSV: sentences built from "grant" phrases vs "disclaimer" phrases.</summary>
    internal static string WriteSentiment(string folder, string name, int count, int offset = 0)
    {
        var lines = new List<string> { "text,label" };
        for (int i = 0; i < count; i++)
        {
            bool pos = (i + offset) % 2 == 0;
            var phrases = pos ? Positive : Negative;
            lines.Add($"\"{phrases[(i + offset) % 4]} {phrases[(i / 2 + offset) % 4]}\",{(pos ? "granted" : "disclaimed")}");
        }
        string path = Path.Combine(folder, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static (DebertaForSequenceClassification Model, TextClassificationDataset Train, TextClassificationDataset Eval) Setup(TempDir dir, double dropout = 0.1, int seed = 7)
    {
        var tokenizer = DatasetTests.Tokenizer();
        var train = TextClassificationDataset.Load(WriteSentiment(dir.Path, "train.csv", 24), tokenizer, new TextClassificationDatasetOptions());
        var eval = TextClassificationDataset.Load(WriteSentiment(dir.Path, "eval.csv", 8, offset: 1), tokenizer, train.Options);
        var config = TinyModels.V3(vocabSize: tokenizer.VocabularySize, dropout: dropout);
        train.ConfigureModel(config);
        TrainingSeed.Set(seed);
        return (new DebertaForSequenceClassification(config), train, eval);
    }

    private static TrainerOptions Options(string output, long maxSteps = 12) => new()
    {
        OutputDirectory = output,
        MaxSteps = maxSteps,
        BatchSize = 4,
        GradientAccumulationSteps = 2,
        EvalSteps = 4,
        LoggingSteps = 2,
        WarmupSteps = 2,
        Optimizer = new AdamWOptions { LearningRate = 3e-3 },
        Seed = 11,
        Tokenizer = DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(DebertaSharp.Tests.Tokenization.GoldenData.Folder("tokenizer-v3")),
    };

    [Fact]
    public void LearnsASeparableTaskAndWritesAnHfModelWithMetrics()
    {
        using var dir = new TempDir();
        var (model, train, eval) = Setup(dir);
        using var _ = model;
        var events = new List<TrainingProgress>();
        var trainer = new Trainer(model, train, eval, Options(Path.Combine(dir.Path, "out"), maxSteps: 30) with { EvalSteps = 10 });
        var result = trainer.Train(progress: new SyncProgress(events.Add));

        Assert.Equal(30, result.GlobalStep);
        Assert.Equal(1.0, result.EvalMetrics!["eval_accuracy"]);
        Assert.Equal("eval_accuracy", result.MetricForBestModel);
        Assert.Equal(30, events.Count(e => e.Event == TrainingEvent.Step));
        Assert.Equal(3, events.Count(e => e.Event == TrainingEvent.Evaluated));
        Assert.Equal(TrainingEvent.Finished, events[^1].Event);
        var losses = result.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e.Values["loss"]).ToList();
        Assert.True(losses[^1] < 0.75 * losses[0], $"loss did not fall: {string.Join(", ", losses)}");

        // The output folder is an HF checkpoint with the task's labels and the tokenizer, plus metrics.json.
        string output = result.OutputDirectory;
        using var reloaded = AutoModel.FromPretrained(output);
        Assert.Empty(reloaded.LoadReport!.Missing);
        Assert.Equal(["disclaimed", "granted"], reloaded.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value));
        Assert.True(File.Exists(Path.Combine(output, "spm.model")));
        var metrics = JsonNode.Parse(File.ReadAllText(result.MetricsFile))!;
        Assert.Equal(1.0, metrics["eval"]!["eval_accuracy"]!.GetValue<double>());
        Assert.Equal(30, metrics["global_step"]!.GetValue<long>());
        // At most SaveTotalLimit (2) checkpoints plus the best; no temporary folders.
        var checkpoints = Directory.GetDirectories(output).Select(Path.GetFileName).ToList();
        Assert.All(checkpoints, c => Assert.StartsWith("checkpoint-", c));
        Assert.InRange(checkpoints.Count, 1, 3);
        Assert.Contains(Path.GetFileName(result.BestCheckpoint!), checkpoints);
    }

    [Fact]
    public void ResumingAfterCancellationEndsAtTheSameWeightsAsAnUninterruptedRun()
    {
        using var dir = new TempDir();
        // Uninterrupted: 12 steps, dropout on, warm-up, accumulation, clipping, evaluation every 4 steps.
        var (reference, train, eval) = Setup(dir);
        using var _r = reference;
        var full = new Trainer(reference, train, eval, Options(Path.Combine(dir.Path, "full"))).Train();

        // Interrupted at step 6 (between evaluations), then resumed in a fresh model and trainer.
        string output = Path.Combine(dir.Path, "resumed");
        var (first, _, _) = Setup(dir);
        using var _f = first;
        using var cts = new CancellationTokenSource();
        var stop = new SyncProgress(p => { if (p.Event == TrainingEvent.Step && p.GlobalStep == 6) cts.Cancel(); });
        var cancelled = Assert.Throws<TrainingCanceledException>(() => new Trainer(first, train, eval, Options(output)).Train(progress: stop, cancellationToken: cts.Token));
        Assert.Equal(6, cancelled.GlobalStep);
        Assert.Equal(Path.Combine(output, "checkpoint-6"), cancelled.Checkpoint);
        // Nothing half-written: complete checkpoints only, no final model yet.
        Assert.Equal(["checkpoint-4", "checkpoint-6"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName).Order());
        Assert.False(File.Exists(Path.Combine(output, "config.json")));

        var (second, _, _) = Setup(dir, seed: 99);     // other initial weights: all must come from the checkpoint
        using var _s = second;
        var resumed = new Trainer(second, train, eval, Options(output)).Train(resumeFrom: output);

        Assert.Equal(full.GlobalStep, resumed.GlobalStep);
        double maxDiff = 0;
        foreach (var ((name, a), (_, b)) in reference.state_dict().Zip(second.state_dict()))
            maxDiff = Math.Max(maxDiff, (a - b).abs().max().item<float>());
        Assert.True(maxDiff <= 1e-6, $"max |Δ| {maxDiff} between the resumed and the uninterrupted run");
        Assert.Equal(full.TrainLoss, resumed.TrainLoss, 9);
        Assert.Equal(full.LogHistory.Select(e => (e.Step, string.Join(",", e.Values.OrderBy(v => v.Key).Select(v => $"{v.Key}={v.Value:R}")))),
                     resumed.LogHistory.Select(e => (e.Step, string.Join(",", e.Values.OrderBy(v => v.Key).Select(v => $"{v.Key}={v.Value:R}")))));
    }

    [Fact]
    public void TrainingAndEvaluationLeaveNoLiveTensors()
    {
        using var dir = new TempDir();
        var (model, train, eval) = Setup(dir);
        using var _ = model;
        var trainer = new Trainer(model, train, eval, Options(Path.Combine(dir.Path, "warm-up"), maxSteps: 2));
        trainer.Train();                                         // first use: lazily made native state
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        new Trainer(model, train, eval, Options(Path.Combine(dir.Path, "out"), maxSteps: 8)).Train();
        trainer.Evaluate(eval);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void ResumingWithOtherSettingsIsRefused()
    {
        using var dir = new TempDir();
        var (model, train, eval) = Setup(dir);
        using var _ = model;
        string output = Path.Combine(dir.Path, "out");
        new Trainer(model, train, eval, Options(output, maxSteps: 4)).Train();
        var e = Assert.Throws<TrainingException>(() => new Trainer(model, train, eval, Options(output, maxSteps: 4) with { BatchSize = 8 }).Train(resumeFrom: output));
        Assert.Contains("batch_size 4 then, 8 now", e.Message);
        // A fresh run into the same folder would mix two runs: refused unless told to overwrite.
        Assert.Contains("already holds checkpoints of an earlier run", Assert.Throws<TrainingException>(() =>
            new Trainer(model, train, eval, Options(output, maxSteps: 4)).Train()).Message);
        new Trainer(model, train, eval, Options(output, maxSteps: 2) with { OverwriteOutputDirectory = true, EvalSteps = 2 }).Train();
        Assert.Equal(["checkpoint-2"], Directory.GetDirectories(output).Select(Path.GetFileName));
        Assert.Throws<CheckpointException>(() => new Trainer(model, train, eval, Options(output)).Train(resumeFrom: Path.Combine(dir.Path, "nowhere")));
    }

    [Fact]
    public void GradientAccumulationEqualsTheLargerBatch()
    {
        using var dir = new TempDir();
        var (a, train, eval) = Setup(dir, dropout: 0);
        var (b, _, _) = Setup(dir, dropout: 0);
        using var _a = a;
        using var _b = b;
        new Trainer(a, train, null, Options(Path.Combine(dir.Path, "a"), 6) with { BatchSize = 4, GradientAccumulationSteps = 2 }).Train();
        new Trainer(b, train, null, Options(Path.Combine(dir.Path, "b"), 6) with { BatchSize = 8, GradientAccumulationSteps = 1 }).Train();
        double maxDiff = a.parameters().Zip(b.parameters()).Max(p => (double)(p.First - p.Second).abs().max().item<float>());
        Assert.True(maxDiff < 1e-5, $"max |Δ| {maxDiff}");
        // And the runs did move the weights (1e-5 is not trivially met).
        var (fresh, _, _) = Setup(dir, dropout: 0);
        using var _c = fresh;
        Assert.True(a.parameters().Zip(fresh.parameters()).Max(p => (double)(p.First - p.Second).abs().max().item<float>()) > 1e-3);
    }

    [Fact]
    public void EarlyStoppingEndsAfterThePatience()
    {
        using var dir = new TempDir();
        var (model, train, eval) = Setup(dir);
        using var _ = model;
        // A zero learning rate never improves the metric: the first evaluation sets the best, two more without gain stop.
        var options = Options(Path.Combine(dir.Path, "out"), maxSteps: 12) with
        {
            EvalSteps = 1,
            EarlyStoppingPatience = 2,
            MetricForBestModel = "loss",
            Optimizer = new AdamWOptions { LearningRate = 0 },
        };
        var result = new Trainer(model, train, eval, options).Train();
        Assert.True(result.EarlyStopped);
        Assert.Equal(3, result.GlobalStep);
        Assert.Equal("eval_loss", result.MetricForBestModel);
    }

    [Fact]
    public void AFineTunedSequenceClassifierHasTheKeysShapesDtypesAndConfigHfWrites()
    {
        using var dir = new TempDir();
        var golden = new GoldenCase("deberta-v3-heads/seqcls");
        TrainingSeed.Set(1);
        var train = new SyntheticClassification(128, 32, ["negative", "positive"]);
        using var model = DebertaForSequenceClassification.FromPretrained(golden.Folder);
        train.ConfigureModel(model.Config);
        var result = new Trainer(model, train, train, Options(Path.Combine(dir.Path, "out"), maxSteps: 4) with { Tokenizer = null }).Train();

        using (var reference = SafetensorsFile.Open(Path.Combine(golden.Folder, "model.safetensors")))
        using (var saved = SafetensorsFile.Open(Path.Combine(result.OutputDirectory, "model.safetensors")))
        {
            Assert.Equal(reference.Entries.Select(e => e.Name).Order(StringComparer.Ordinal), saved.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
            foreach (var entry in saved.Entries)
            {
                Assert.Equal(reference.GetEntry(entry.Name).Shape, entry.Shape);
                Assert.Equal(reference.GetEntry(entry.Name).DType, entry.DType);
            }
            Assert.Equal("pt", saved.Metadata["format"]);
        }
        var goldenConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(golden.Folder, "config.json")))!.AsObject();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(result.OutputDirectory, "config.json")))!.AsObject();
        foreach (var (key, value) in goldenConfig)
            Assert.True(JsonNode.DeepEquals(value, config[key]), $"{key}: golden {value?.ToJsonString()}, saved {config[key]?.ToJsonString()}");
        // HF's label maps: string keys "0", "1" → names, names → ints; and the problem type HF reads.
        Assert.Equal("""{"0":"negative","1":"positive"}""", config["id2label"]!.ToJsonString());
        Assert.Equal("""{"negative":0,"positive":1}""", config["label2id"]!.ToJsonString());
        Assert.Equal("single_label_classification", config["problem_type"]!.GetValue<string>());
        Assert.Equal("DebertaV2ForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        Assert.False(config.ContainsKey("num_labels"));   // HF derives it from id2label
    }

    [Fact]
    public void ADatasetForAnotherHeadOrLabelCountIsRejected()
    {
        using var dir = new TempDir();
        var (model, train, _) = Setup(dir);
        using var _m = model;
        var three = new SyntheticClassification(1001, 8, ["a", "b", "c"]);
        Assert.Contains("needs 3", Assert.Throws<TrainingException>(() => new Trainer(model, three, null, Options(dir.Path))).Message);
        using var tokens = new DebertaForTokenClassification(model.Config);
        Assert.Contains("SequenceClassification head", Assert.Throws<TrainingException>(() => new Trainer(tokens, train, null, Options(dir.Path))).Message);
    }

    /// <summary>Reports synchronously on the training thread (unlike <see cref="Progress{T}"/>).</summary>
    internal sealed class SyncProgress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }

    /// <summary>Random token ids in [3, vocab) with a learnable label (is the first token in the upper half?).</summary>
    private sealed class SyntheticClassification : FineTuningDataset
    {
        private readonly long[][] _ids;
        private readonly long[] _labels;
        private readonly IReadOnlyList<string> _names;

        public SyntheticClassification(int vocab, int count, IReadOnlyList<string> labels) : base("synthetic", 0)
        {
            var random = new SeededRandom(5);
            _names = labels;
            _ids = Enumerable.Range(0, count).Select(_ => new[] { 1L }.Concat(Enumerable.Range(0, 3 + random.Next(6)).Select(_ => (long)random.Next(3, vocab))).Append(2).ToArray()).ToArray();
            _labels = _ids.Select(r => r[1] >= vocab / 2 ? 1L : 0L).ToArray();
        }

        public override HeadKind Head => HeadKind.SequenceClassification;
        public override int Count => _ids.Length;
        public override string DefaultMetric => "accuracy";
        public override int LengthOf(int index) => _ids[index].Length;

        public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
        {
            int length = indices.Max(LengthOf);
            var ids = zeros(indices.Count, length, ScalarType.Int64, device);
            var mask = zeros(indices.Count, length, ScalarType.Int64, device);
            for (int b = 0; b < indices.Count; b++)
            {
                ids[b, ..(int)_ids[indices[b]].Length] = tensor(_ids[indices[b]], ScalarType.Int64, device);
                mask[b, ..(int)_ids[indices[b]].Length] = 1;
            }
            return new DebertaInputs(ids) { AttentionMask = mask, Labels = tensor(indices.Select(i => _labels[i]).ToArray(), ScalarType.Int64, device) };
        }

        public override void ConfigureModel(DebertaConfig config)
        {
            config.SetLabels(_names);
            config.ProblemType = "single_label_classification";
        }

        public override void CheckModel(DebertaPreTrainedModel model)
        {
            base.CheckModel(model);
            if (model.Config.NumLabels != _names.Count) throw new TrainingException($"needs {_names.Count} labels");
        }

        public override TaskEvaluator CreateEvaluator() => new Evaluator(this);

        private sealed class Evaluator(SyntheticClassification data) : TaskEvaluator
        {
            private int _right, _all;

            public override void Add(IReadOnlyList<int> indices, DebertaOutput output)
            {
                var predicted = output.Logits!.argmax(-1).data<long>().ToArray();
                for (int b = 0; b < indices.Count; b++, _all++) if (predicted[b] == data._labels[indices[b]]) _right++;
            }

            public override IReadOnlyDictionary<string, double> Compute() => new Dictionary<string, double> { ["accuracy"] = (double)_right / _all };
        }
    }
}
