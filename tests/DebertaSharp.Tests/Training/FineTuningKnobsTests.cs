using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

/// <summary>DeBERTa-v3 recipe knobs: layer-wise learning-rate decay, head learning rate, class weights, label smoothing, multi-label data.</summary>
[Collection(SerialTorchRng.Name)]
public class FineTuningKnobsTests
{
    private static (DebertaForSequenceClassification Model, TextClassificationDataset Train) Setup(TempDir dir, double dropout = 0.1)
    {
        var tokenizer = DatasetTests.Tokenizer();
        var train = TextClassificationDataset.Load(TrainerTests.WriteSentiment(dir.Path, "train.csv", 24), tokenizer, new TextClassificationDatasetOptions());
        var config = TinyModels.V3(vocabSize: tokenizer.VocabularySize, dropout: dropout);
        train.ConfigureModel(config);
        TrainingSeed.Set(5);
        return (new DebertaForSequenceClassification(config), train);
    }

    [Fact]
    public void LayerwiseDecayAndHeadRateAreReadBackFromTheOptimizerGroups()
    {
        using var dir = new TempDir();
        var (model, train) = Setup(dir);
        using var _ = model;
        var trainer = new Trainer(model, train, null, new TrainerOptions
        {
            OutputDirectory = dir.Path,
            Optimizer = new AdamWOptions { LearningRate = 1e-3 },
            LayerwiseLrDecay = 0.8,
            HeadLearningRate = 1e-2,
        });
        using var optimizer = trainer.CreateOptimizer();
        Assert.Equal(1e-3, optimizer.LearningRate);
        // Two layers: layer 1 (top) at lr, layer 0 at lr·0.8, embeddings and the shared relative table at lr·0.8².
        foreach (string name in optimizer.ParameterNames)
        {
            double expected = name switch
            {
                _ when name.StartsWith("deberta.encoder.layer.1.", StringComparison.Ordinal) => 1e-3,
                _ when name.StartsWith("deberta.encoder.layer.0.", StringComparison.Ordinal) => 8e-4,
                _ when name.StartsWith("deberta.embeddings.", StringComparison.Ordinal) || name.StartsWith("deberta.encoder.rel_embeddings.", StringComparison.Ordinal)
                    || name.StartsWith("deberta.encoder.LayerNorm.", StringComparison.Ordinal) => 6.4e-4,
                _ when name.StartsWith("pooler.", StringComparison.Ordinal) || name.StartsWith("classifier.", StringComparison.Ordinal) => 1e-2,
                _ => throw new Xunit.Sdk.XunitException($"unexpected parameter {name}"),
            };
            Assert.Equal(expected, optimizer.LearningRateOf(name), 12);
        }

        var groups = optimizer.ParameterGroups;
        Assert.Equal([0.64, 0.8, 1.0, 10.0], groups.Select(g => Math.Round(g.LearningRateScale, 10)).Distinct().Order());
        Assert.Equal(optimizer.ParameterNames.Order(), groups.SelectMany(g => g.Names).Order());
        Assert.All(groups.Where(g => g.Names.Any(n => n.EndsWith(".bias", StringComparison.Ordinal))), g => Assert.Equal(0, g.WeightDecay));

        // Without the knobs every parameter trains at the scheduled rate.
        Assert.Null(new Trainer(model, train, null, new TrainerOptions { OutputDirectory = dir.Path }).LearningRateScales);
    }

    [Fact]
    public void AScaledParameterMovesByItsOwnLearningRate()
    {
        // Adam's first step moves each element by lr·g/(|g| + ε) (bias-corrected moments are g and g²).
        using var a = new TorchSharp.Modules.Parameter(zeros(3));
        using var b = new TorchSharp.Modules.Parameter(zeros(3));
        using var optimizer = new AdamW([("a.weight", a), ("b.weight", b)], new AdamWOptions { LearningRate = 0.1, WeightDecay = 0.5 },
            name => name.StartsWith('b') ? 0.25 : 1.0);
        float[] g = [0.5f, -2f, 1e-3f];
        a.grad = tensor(g);
        b.grad = tensor(g);
        optimizer.Step();
        for (int i = 0; i < 3; i++)
        {
            double step = g[i] / (Math.Abs(g[i]) + 1e-6);
            Assert.Equal(-0.1 * step, a[i].item<float>(), 1e-6);
            Assert.Equal(-0.025 * step, b[i].item<float>(), 1e-6);
        }
    }

    /// <summary>torch's cross-entropy with weights and label smoothing, in double precision from its definition.</summary>
    private static double ReferenceLoss(float[][] logits, long[] labels, double[]? weights, double smoothing)
    {
        double nll = 0, smooth = 0, norm = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (labels[i] == -100) continue;
            double max = logits[i].Max(), logSum = Math.Log(logits[i].Sum(x => Math.Exp(x - max))) + max;
            double w(int c) => weights?[c] ?? 1.0;
            nll += w((int)labels[i]) * (logSum - logits[i][labels[i]]);
            for (int c = 0; c < logits[i].Length; c++) smooth += w(c) * (logSum - logits[i][c]);
            norm += w((int)labels[i]);
        }
        int classes = logits[0].Length;
        return (1 - smoothing) * nll / norm + smoothing / classes * smooth / norm;
    }

    [Fact]
    public void WeightedSmoothedCrossEntropyFollowsTorchsDefinition()
    {
        float[][] logits = [[1.5f, -0.5f, 0.2f], [0.1f, 0.3f, -2f], [2f, 2f, 2f], [-1f, 0.5f, 3f]];
        long[] labels = [0, 2, -100, 1];
        double[] weights = [1.0, 3.0, 0.5];
        using var scope = NewDisposeScope();
        Tensor x = tensor(logits.SelectMany(r => r).ToArray(), [4, 3]);
        Tensor y = tensor(labels);
        foreach (var (w, eps) in new (double[]?, double)[] { (null, 0), (weights, 0), (null, 0.1), (weights, 0.2) })
        {
            using Tensor? wt = w is null ? null : tensor(w.Select(v => (float)v).ToArray());
            using Tensor loss = WeightedCrossEntropy.Loss(x, y, wt, eps);
            Assert.Equal(ReferenceLoss(logits, labels, w, eps), loss.item<float>(), 1e-5);
        }

        // Plain: the same as the head's own loss (torch's cross-entropy, HF-golden elsewhere).
        Assert.Equal(nn.functional.cross_entropy(x, y, ignore_index: -100).item<float>(), WeightedCrossEntropy.Loss(x, y, null, 0).item<float>(), 1e-6);
    }

    [Fact]
    public void TheTrainerTrainsOnTheWeightedSmoothedLoss()
    {
        using var dir = new TempDir();
        var (model, train) = Setup(dir, dropout: 0);
        using var _ = model;
        // The first step's logged loss is the loss of the initial model over the whole set (one batch of 24).
        var all = Enumerable.Range(0, train.Count).ToArray();
        float[][] logits;
        using (no_grad())
        using (var scope = NewDisposeScope())
        using (var output = model.Forward(train.Collate(all, CPU)))
        {
            float[] flat = output.Logits!.data<float>().ToArray();
            logits = [.. all.Select(i => flat[(i * 2)..(i * 2 + 2)])];
        }

        double[] weights = [0.3, 2.0];
        var options = new TrainerOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "out"),
            MaxSteps = 1,
            BatchSize = 24,
            LoggingSteps = 1,
            ClassWeights = weights,
            LabelSmoothing = 0.1,
            Optimizer = new AdamWOptions { LearningRate = 1e-3 },
        };
        var result = new Trainer(model, train, null, options).Train();
        double expected = ReferenceLoss(logits, [.. train.ClassIndices], weights, 0.1);
        Assert.Equal(expected, result.LogHistory[0].Values["loss"], 1e-5);

        Assert.Contains("3 class weights", Assert.Throws<TrainingException>(() => new Trainer(model, train, null, options with { ClassWeights = [1, 2, 3] })).Message);
        Assert.Contains("Label smoothing", Assert.Throws<TrainingException>(() => new Trainer(model, train, null, options with { LabelSmoothing = 1 })).Message);
        Assert.Contains("decay", Assert.Throws<TrainingException>(() => new Trainer(model, train, null, options with { LayerwiseLrDecay = 0 })).Message);
    }

    /// <summary>The data of <see cref="Parent"/> with its class labels as float32, a type the model's own loss refuses.</summary>
    private sealed class FloatLabels(FineTuningDataset parent) : FineTuningDataset(parent.Source, parent.PadTokenId)
    {
        public FineTuningDataset Parent { get; } = parent;
        public override HeadKind Head => Parent.Head;
        public override int Count => Parent.Count;
        public override int LengthOf(int index) => Parent.LengthOf(index);
        public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
        {
            var inputs = Parent.Collate(indices, device);
            return inputs with { Labels = inputs.Labels!.to(ScalarType.Float32) };
        }
        public override TaskEvaluator CreateEvaluator() => Parent.CreateEvaluator();
        public override string DefaultMetric => Parent.DefaultMetric;
        public override void ConfigureModel(DebertaSharp.Configuration.DebertaConfig config) => Parent.ConfigureModel(config);
    }

    [Fact]
    public void WithItsOwnLossTheTrainerKeepsTheLabelsFromTheModel()
    {
        using var dir = new TempDir();
        var (model, train) = Setup(dir, dropout: 0);
        using var _ = model;
        var data = new FloatLabels(train);
        using (var scope = NewDisposeScope())
            Assert.Throws<DebertaInputException>(() => model.Forward(data.Collate([0, 1], CPU)));   // the model would refuse to score them
        var options = new TrainerOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "out"),
            MaxSteps = 1,
            BatchSize = 24,
            LoggingSteps = 1,
            LabelSmoothing = 0.1,
            Optimizer = new AdamWOptions { LearningRate = 1e-3 },
        };
        // One loss per step: only the trainer's cross-entropy sees the labels, so the step runs.
        var result = new Trainer(model, data, null, options).Train();
        Assert.True(double.IsFinite(result.LogHistory[0].Values["loss"]));
        // Without a loss of its own the trainer hands the labels to the model, which refuses them.
        var plain = options with { LabelSmoothing = 0, OutputDirectory = Path.Combine(dir.Path, "plain") };
        Assert.Contains("labels", Assert.Throws<DebertaInputException>(() => new Trainer(model, data, null, plain).Train()).Message);
    }

    [Fact]
    public void MultiLabelDataFromListsOrDelimitedColumnsTrainsWithBce()
    {
        using var dir = new TempDir();
        var tokenizer = DatasetTests.Tokenizer();
        string jsonl = Path.Combine(dir.Path, "tags.jsonl");
        File.WriteAllLines(jsonl,
        [
            "{\"text\": \"free of charge\", \"label\": [\"free\"]}",
            "{\"text\": \"permission to copy, free of charge\", \"label\": [\"free\", \"copy\"]}",
            "{\"text\": \"without warranty\", \"label\": []}",
            "{\"text\": \"you may copy\", \"label\": [\"copy\"]}",
        ]);
        var data = TextClassificationDataset.Load(jsonl, tokenizer, new TextClassificationDatasetOptions { MultiLabel = true });
        Assert.Equal(["copy", "free"], data.Labels);
        Assert.Equal([[0f, 1f], [1f, 1f], [0f, 0f], [1f, 0f]], data.Targets.Select(t => t.ToArray()));
        Assert.Equal("f1_micro", data.DefaultMetric);

        string csv = Path.Combine(dir.Path, "tags.csv");
        File.WriteAllText(csv, "text,label\nfree of charge,free\n\"permission to copy, free of charge\",copy|free\nwithout warranty,\nyou may copy,copy\n");
        var delimited = TextClassificationDataset.Load(csv, tokenizer, new TextClassificationDatasetOptions { MultiLabel = true, LabelDelimiter = "|" });
        Assert.Equal(data.Targets.Select(t => t.ToArray()), delimited.Targets.Select(t => t.ToArray()));
        Assert.Contains("tags.csv:6: label 'share'", Assert.Throws<DatasetException>(() =>
        {
            File.AppendAllText(csv, "share it,share\n");
            TextClassificationDataset.Load(csv, tokenizer, new TextClassificationDatasetOptions { MultiLabel = true, LabelDelimiter = "|", Labels = ["copy", "free"] });
        }).Message);

        var config = TinyModels.V3(vocabSize: tokenizer.VocabularySize, dropout: 0);
        data.ConfigureModel(config);
        Assert.Equal("multi_label_classification", config.ProblemType);
        TrainingSeed.Set(3);
        using var model = new DebertaForSequenceClassification(config);
        using (var scope = NewDisposeScope())
        {
            var inputs = data.Collate([1, 2], CPU);
            Assert.Equal([2L, 2], inputs.Labels!.shape);
            using var output = model.Forward(inputs);
            using var bce = nn.functional.binary_cross_entropy_with_logits(output.Logits!, inputs.Labels);
            Assert.Equal(bce.item<float>(), output.Loss!.item<float>(), 6);      // the head's BCE on the multi-hot targets
        }

        var result = new Trainer(model, data, data, new TrainerOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "out"),
            MaxSteps = 4,
            BatchSize = 2,
            Optimizer = new AdamWOptions { LearningRate = 1e-2 },
        }).Train();
        Assert.Equal("eval_f1_micro", result.MetricForBestModel);
        Assert.Contains("eval_subset_accuracy", result.EvalMetrics!.Keys);
    }
}
