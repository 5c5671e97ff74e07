using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Pretraining;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pretraining;

/// <summary>What a pre-training run leaves on disk: HF folders with the original checkpoints' key names.</summary>
[Collection(SerialTorchRng.Name)]
public class SavedModelTests
{
    private static PretrainingOptions Options => new() { MaxSteps = 3, BatchSize = 4, MaxLength = 24, LearningRate = 1e-3, SaveSteps = 2, Seed = 1 };

    private static Tensor Read(string folder, string key)
    {
        using var reader = CheckpointReader.Open(folder);
        var t = zeros(reader.GetEntry(key).Shape);
        reader.CopyInto(key, t);
        return t;
    }

    [Fact]
    public void TheRtdDiscriminatorIsAnHfFolderWhoseTableIsGeneratorPlusDelta()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        using (var model = TinyPretraining.Build(PretrainingObjective.Rtd, seed: 3))
            TinyPretraining.Trainer(model, tmp.Path, Options).Train();
        string generator = Path.Combine(tmp.Path, "generator"), discriminator = Path.Combine(tmp.Path, "discriminator");

        using (var reader = CheckpointReader.Open(discriminator))
        {
            var keys = reader.Keys.ToHashSet();
            Assert.Contains("deberta.embeddings.word_embeddings.weight", keys);
            Assert.Contains("deberta.embeddings.word_embeddings._weight", keys);
            Assert.DoesNotContain("deberta.embeddings.position_embeddings.weight", keys);
            Assert.Equal(
                ["mask_predictions.LayerNorm.bias", "mask_predictions.LayerNorm.weight", "mask_predictions.classifier.bias",
                 "mask_predictions.classifier.weight", "mask_predictions.dense.bias", "mask_predictions.dense.weight"],
                keys.Where(k => k.StartsWith("mask_predictions.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            Assert.Equal([1L, 32], reader.GetEntry("mask_predictions.classifier.weight").Shape);
            Assert.Equal([32L, 32], reader.GetEntry("mask_predictions.dense.weight").Shape);
            Assert.All(keys, k => Assert.True(k.StartsWith("deberta.", StringComparison.Ordinal) || k.StartsWith("mask_predictions.", StringComparison.Ordinal), k));
        }
        var merged = Read(discriminator, "deberta.embeddings.word_embeddings.weight");
        var delta = Read(discriminator, "deberta.embeddings.word_embeddings._weight");
        var shared = Read(generator, "deberta.embeddings.word_embeddings.weight");
        Assert.True(merged.eq(shared + delta).all().item<bool>(), "the saved discriminator table is not generator + delta");
        Assert.True(delta.abs().max().item<float>() > 0, "the delta did not train");
        Assert.Contains("DebertaV2ForReplacedTokenDetection", File.ReadAllText(Path.Combine(discriminator, "config.json")));
        Assert.True(File.Exists(Path.Combine(discriminator, "spm.model")));

        // Loadable as a bare encoder (what HF's DebertaV2Model does with it) with every encoder weight present.
        using (var encoder = DebertaModel.FromPretrained(discriminator))
        {
            var report = encoder.LoadReport!;
            Assert.Empty(report.Missing);
            Assert.Empty(report.Unexpected);
            Assert.Contains(report.Ignored, i => i.Key == "deberta.embeddings.word_embeddings._weight");
            Assert.Contains(report.Ignored, i => i.Key == "mask_predictions.classifier.weight");
            Assert.True(encoder.Embeddings.WordEmbeddings.eq(merged).all().item<bool>());
        }
        using (var auto = AutoModel.FromPretrained(discriminator))
        {
            Assert.IsType<DebertaForReplacedTokenDetection>(auto);
            Assert.Empty(auto.LoadReport!.Missing);
        }
        using (var mlm = DebertaForMaskedLM.FromPretrained(generator))
        {
            Assert.True(mlm.UseEnhancedMaskDecoder);
            Assert.Empty(mlm.LoadReport!.Missing);
            Assert.Equal(1, mlm.Config.NumHiddenLayers);
        }

        // The pair loads back with the same tables; a lone discriminator keeps its table with a fresh generator.
        using (var pair = RtdPretrainingModel.FromPretrained(tmp.Path))
        {
            Assert.True(pair.Discriminator.Deberta.Embeddings.WordEmbeddings.eq(merged).all().item<bool>());
            Assert.True(pair.Sharing.Deltas.Single().Delta.eq(delta).all().item<bool>());
        }
        using (var lone = RtdPretrainingModel.FromPretrained(discriminator, generatorLayers: 1))
        {
            Assert.True(lone.Discriminator.Deberta.Embeddings.WordEmbeddings.eq(merged).all().item<bool>());
            Assert.True(lone.Generator.Deberta.Embeddings.WordEmbeddings.eq(merged).all().item<bool>());
            Assert.Equal(0f, lone.Sharing.Deltas.Single().Delta.abs().max().item<float>());
        }

        // (folder, …, device, dtype) as every FromPretrained: the type is set before loading and linking the tables.
        using (var pair = RtdPretrainingModel.FromPretrained(tmp.Path, device: CPU, dtype: ScalarType.Float64))
        {
            Assert.All(pair.Parts.SelectMany(p => p.Model.parameters()), p => Assert.Equal(ScalarType.Float64, p.dtype));
            Assert.True(pair.Sharing.Deltas.Single().Delta.eq(delta.to(ScalarType.Float64)).all().item<bool>());
            // generator + delta summed in float64 rather than float32: equal within float32 rounding
            Assert.True(pair.Discriminator.Deberta.Embeddings.WordEmbeddings.sub(merged.to(ScalarType.Float64)).abs().max().item<double>() < 1e-6);
        }
        using (var lone = RtdPretrainingModel.FromPretrained(discriminator, generatorLayers: 1, dtype: ScalarType.Float64))
            Assert.All(lone.Parts.SelectMany(p => p.Model.parameters()), p => Assert.Equal(ScalarType.Float64, p.dtype));
        using (var mlm = MlmPretrainingModel.FromPretrained(generator, CPU, ScalarType.Float64))
            Assert.All(mlm.Model.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
    }

    [Fact]
    public void TheMlmModelKeepsThePositionTableForTheEnhancedMaskDecoder()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        using (var model = TinyPretraining.Build(PretrainingObjective.Mlm, seed: 3))
            TinyPretraining.Trainer(model, tmp.Path, Options with { SaveTotalLimit = 1 }).Train();

        Assert.Equal(["checkpoint-3"], Directory.GetDirectories(tmp.Path).Select(Path.GetFileName));   // checkpoint-2 pruned
        using var mlm = DebertaForMaskedLM.FromPretrained(tmp.Path);
        Assert.True(mlm.UseEnhancedMaskDecoder);
        Assert.Empty(mlm.LoadReport!.Missing);
        Assert.Contains("deberta.embeddings.position_embeddings.weight", mlm.LoadReport.Loaded);
        using var fromCheckpoint = DebertaForMaskedLM.FromPretrained(Path.Combine(tmp.Path, "checkpoint-3"));
        foreach (var (name, tensor) in mlm.state_dict())
            Assert.True(tensor.eq(fromCheckpoint.state_dict()[name]).all().item<bool>(), name);
    }

    [Fact]
    public void TheReplacedTokenHeadComputesTheOriginalFormula()
    {
        // logits = classifier(act(dense(LayerNorm(h + h[:, 0])))), loss = BCE over non-padding tokens.
        var config = TinyPretraining.Config();
        manual_seed(0);
        using var model = new DebertaForReplacedTokenDetection(config);
        model.eval();
        var ids = tensor(new long[,] { { 1, 40, 41, 42, 2, 0 }, { 1, 50, 51, 2, 0, 0 } });
        var mask = ids.ne(0).to(ScalarType.Int64);
        var labels = tensor(new long[,] { { 0, 1, 0, 1, 0, 1 }, { 0, 0, 1, 0, 1, 1 } });
        using var output = model.Forward(new DebertaInputs(ids) { AttentionMask = mask, Labels = labels }, outputHiddenStates: true);

        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        var h = output.LastHiddenState;
        var x = nn.functional.layer_norm(h + h[.., 0..1], [32], p["mask_predictions.LayerNorm.weight"], p["mask_predictions.LayerNorm.bias"], 1e-7);
        x = nn.functional.gelu(x.matmul(p["mask_predictions.dense.weight"].t()) + p["mask_predictions.dense.bias"]);
        var expected = (x.matmul(p["mask_predictions.classifier.weight"].t()) + p["mask_predictions.classifier.bias"]).squeeze(-1);
        Assert.True(allclose(output.Logits!, expected, rtol: 1e-5, atol: 1e-6));

        var active = mask.ne(0);
        var z = expected.masked_select(active);
        var y = labels.masked_select(active).to(ScalarType.Float32);
        var bce = -(y * nn.functional.logsigmoid(z) + (1 - y) * nn.functional.logsigmoid(-z)).mean();
        Assert.Equal(bce.item<float>(), output.Loss!.item<float>(), 1e-5);
    }
}
