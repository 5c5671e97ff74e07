using DebertaSharp.Adapters;
using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using DebertaSharp.Tests.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// <see cref="DebertaPreTrainedModel.FreezeForInference"/>: the prepacked dense weights give the same outputs, are
/// what oneDNN reads, and are dropped by everything that changes weights (training mode, loading, LoRA).
/// </summary>
public class FreezeForInferenceTests
{
    private static DebertaForSequenceClassification Model()
    {
        DebertaSharp.Training.TrainingSeed.Set(5);
        return new DebertaForSequenceClassification(TinyModels.V3(dropout: 0));
    }

    private static Tensor Logits(DebertaPreTrainedModel model, Tensor ids)
    {
        using var _ = inference_mode();
        using var output = ((DebertaForSequenceClassification)model).Forward(new DebertaInputs(ids));
        return output.Logits!.clone();
    }

    private static void AssertClose(Tensor expected, Tensor actual) => Parity.AssertClose(actual, expected);

    private static int LinearCount(nn.Module model) => model.named_modules().Count(m => m.module is TorchSharp.Modules.Linear);

    [Fact]
    public void FrozenForwardMatchesAndReadsThePackedWeights()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.eval();
        var ids = randint(5, 128, [2, 9], dtype: ScalarType.Int64, generator: new Generator(4));
        var before = Logits(model, ids);
        var previous = DenseKernels.Kernel;
        DenseKernels.Kernel = DenseKernel.Auto;
        DenseKernels.ResetChoices();
        try
        {
            Assert.Equal(LinearCount(model), model.FreezeForInference());
            Assert.True(model.IsFrozenForInference);
            Assert.False(model.training);
            AssertClose(before, Logits(model, ids));
            Assert.Contains(DenseKernels.Choices, c => c.Prepacked);                 // the products were measured with the packed weights
            DenseKernels.Kernel = DenseKernel.OneDnn;
            AssertClose(before, Logits(model, ids));
            model.Unfreeze();
            Assert.False(model.IsFrozenForInference);
            AssertClose(before, Logits(model, ids));
        }
        finally
        {
            DenseKernels.Kernel = previous;
            DenseKernels.ResetChoices();
        }
    }

    [Fact]
    public void TrainingModeLoadingAndLoraUnfreeze()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.FreezeForInference();
        model.train();
        Assert.False(model.IsFrozenForInference);

        model.FreezeForInference();
        string folder = Path.Combine(Path.GetTempPath(), "ds-freeze-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var other = Model())
            {
                using (no_grad()) foreach (var p in other.parameters()) p.add_(0.5);
                other.SavePretrained(folder);
            }
            using (var checkpoint = CheckpointReader.Open(folder)) model.LoadWeights(checkpoint);
            Assert.False(model.IsFrozenForInference);
            var ids = randint(5, 128, [1, 7], dtype: ScalarType.Int64, generator: new Generator(6));
            var loaded = Logits(model, ids);
            model.FreezeForInference();
            AssertClose(loaded, Logits(model, ids));                                  // packed from the loaded weights, not the old ones
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        Lora.Apply(model, new LoraOptions { Rank = 2, Alpha = 4 });
        Assert.False(model.IsFrozenForInference);
    }

    [Fact]
    public void AReplacedParameterIsReadAsItIs()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.eval();
        var ids = randint(5, 128, [1, 6], dtype: ScalarType.Int64, generator: new Generator(8));
        var original = Logits(model, ids);
        model.FreezeForInference();
        model.to(ScalarType.Float64);                                                 // replaces the parameters' tensors
        model.to(ScalarType.Float32);
        using (no_grad()) foreach (var p in model.parameters()) p.mul_(1.5);         // written after the replacement, still "frozen"
        var actual = Logits(model, ids);
        model.Unfreeze();
        var expected = Logits(model, ids);
        Assert.True((expected - original).abs().max().item<float>() > 1e-3);          // the write matters
        AssertClose(expected, actual);                                                // and the old packed copies were not read
    }

    [Fact]
    public void WhileFrozenTheKeptProjectionsAreTrustedAndUnfreezeChecksThemAgain()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var ids = randint(5, 128, [1, 10], dtype: ScalarType.Int64, generator: new Generator(10));
        using (no_grad())                                                              // position terms large enough to see
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains("query_proj.weight") || name.Contains("key_proj.weight")) p.mul_(20);
        model.FreezeForInference();
        var frozen = Logits(model, ids);                                               // builds the kept projections
        var rel = model.Deberta.Encoder.named_parameters().First(p => p.name.Contains("rel_embeddings")).parameter;
        using (no_grad()) rel.add_(randn(rel.shape, generator: new Generator(11)));       // written in place while frozen: not looked at
        AssertClose(frozen, Logits(model, ids));                                        // the kept projections were not rebuilt
        model.Unfreeze();                                                              // fingerprinted again: the change shows
        float moved = (frozen - Logits(model, ids)).abs().max().item<float>();
        Assert.True(moved > 1e-4, $"the rebuilt projections moved the logits by only {moved:E3}");
    }

    [Fact]
    public void FrozenForwardsLeaveNoLiveTensors()
    {
        using var model = Model();
        model.FreezeForInference();
        using var ids = randint(5, 128, [2, 8], dtype: ScalarType.Int64, generator: new Generator(9));
        for (int i = 0; i < 3; i++) Logits(model, ids).Dispose();                   // warm-up: measured choices, kept projections
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++) Logits(model, ids).Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        model.Unfreeze();
    }
}
