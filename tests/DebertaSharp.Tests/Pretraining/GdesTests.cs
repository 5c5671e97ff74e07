using DebertaSharp.Pretraining;
using DebertaSharp.Tests.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pretraining;

/// <summary>Gradient-disentangled embedding sharing: the discriminator's loss reaches its delta, never the generator's table.</summary>
[Collection(SerialTorchRng.Name)]
public class GdesTests
{
    private static MaskedBatch Batch()
    {
        var stream = new PretrainingDataStream(new TextCorpus([PretrainingSamples.Corpus]), TinyPretraining.Tokenizer,
            new MlmCollator(TinyPretraining.Tokenizer, MaskingOptions.AllMask), batchSize: 8, maxLength: 32, seed: 5);
        return stream.Epoch(0).First();
    }

    /// <summary>Gradients of the generator's word table and the discriminator's delta after one backward of MLM + λ·RTD.</summary>
    private static (Tensor Generator, Tensor Delta, Tensor? Derived) Gradients(double lambda, MaskedBatch batch)
    {
        using var model = (RtdPretrainingModel)TinyPretraining.Build(PretrainingObjective.Rtd, seed: 8, rtdWeight: lambda);
        model.Train(false);
        manual_seed(99);   // same generator samples in every call
        using (var scope = NewDisposeScope())
        {
            var losses = model.Forward(batch);
            losses.Total.backward();
            model.AfterBackward();
        }
        var delta = model.Sharing.Deltas.Single(d => d.Name == "deberta.embeddings.word_embeddings._weight").Delta;
        var derived = model.Sharing.DerivedParameters.Single();
        return (model.Generator.Deberta.Embeddings.WordEmbeddings.grad!.clone(), delta.grad!.clone(), derived.grad?.clone());
    }

    [Fact]
    public void TheDiscriminatorLossGivesTheDeltaAGradientButNotTheGeneratorsEmbedding()
    {
        using var threads = new SingleTorchThread();
        var batch = Batch();
        var (g1, d1, derived1) = Gradients(1, batch);
        var (g50, d50, _) = Gradients(50, batch);
        var (g1000, d1000, _) = Gradients(1000, batch);

        // The generator's table gets the MLM gradient only: it does not change with λ, the weight of the RTD loss.
        Assert.True(g1.abs().max().item<float>() > 0);
        Assert.True(g1.eq(g50).all().item<bool>(), "the generator's embedding gradient depends on the discriminator loss");
        Assert.True(g1.eq(g1000).all().item<bool>());
        // The delta gets the discriminator's table gradient, scaled by λ.
        Assert.True(d1.abs().max().item<float>() > 0, "the discriminator's delta got no gradient");
        AssertScaled(d1, d50, 50);
        AssertScaled(d1, d1000, 1000);
        // The derived table keeps no gradient of its own (it is not optimised).
        Assert.Null(derived1);
    }

    /// <summary>scaled ≈ factor · unit, within 1e-4 of the largest entry (float32 sums in a different order).</summary>
    private static void AssertScaled(Tensor unit, Tensor scaled, double factor)
    {
        float error = (scaled - unit * factor).abs().max().item<float>(), size = scaled.abs().max().item<float>();
        Assert.True(error <= 1e-4 * size, $"max |g(λ={factor}) − {factor}·g(λ=1)| = {error}, max |g| = {size}");
    }

    [Fact]
    public void TheDeltaGradientIsExactlyWhatTheDiscriminatorTableReceives()
    {
        using var threads = new SingleTorchThread();
        var batch = Batch();
        using var model = (RtdPretrainingModel)TinyPretraining.Build(PretrainingObjective.Rtd, seed: 9);
        model.Train(false);
        using (no_grad())
        {
            var delta = model.Sharing.Deltas.First().Delta;
            delta.normal_(0, 0.02);                                   // a trained-looking delta
        }
        model.Sharing.Synchronize();
        var table = model.Discriminator.Deberta.Embeddings.WordEmbeddings;
        var expectedTable = model.Generator.Deberta.Embeddings.WordEmbeddings + model.Sharing.Deltas.First().Delta;
        Assert.True(table.eq(expectedTable).all().item<bool>(), "E_D ≠ E_G + E_Δ after Synchronize");

        // Discriminator loss alone, on ids with some tokens swapped.
        var inputs = batch.ToInputs();
        var replaced = inputs.Labels!.ne(MaskedBatch.IgnoreLabel).to(ScalarType.Int64);
        using (var scope = NewDisposeScope())
        {
            var output = model.Discriminator.Forward(new DebertaSharp.Modeling.DebertaInputs(inputs.InputIds) { AttentionMask = inputs.AttentionMask, Labels = replaced });
            output.Loss!.backward();
        }
        var tableGrad = table.grad!.clone();
        model.AfterBackward();
        Assert.Null(model.Generator.Deberta.Embeddings.WordEmbeddings.grad);
        Assert.True(model.Sharing.Deltas.First().Delta.grad!.eq(tableGrad).all().item<bool>());
        Assert.Null(table.grad);
    }

    [Fact]
    public void GeneratorAndDiscriminatorShareOneTableAtTheStart()
    {
        using var model = (RtdPretrainingModel)TinyPretraining.Build(PretrainingObjective.Rtd, seed: 10);
        Assert.Equal(["deberta.embeddings.word_embeddings"], model.Sharing.SharedTables);   // position_biased_input=false: no position table to share
        Assert.True(model.Discriminator.Deberta.Embeddings.WordEmbeddings.eq(model.Generator.Deberta.Embeddings.WordEmbeddings).all().item<bool>());
        Assert.Equal(1, model.Generator.Config.NumHiddenLayers);                          // half of the discriminator's 2
        var optimised = model.Parts[1].Parameters.Select(p => p.Name).ToList();
        Assert.Contains("deberta.embeddings.word_embeddings._weight", optimised);
        Assert.DoesNotContain("deberta.embeddings.word_embeddings.weight", optimised);
        Assert.Contains("mask_predictions.classifier.weight", optimised);
    }
}
