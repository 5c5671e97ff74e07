using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>Per-layer gradient checkpointing: the same loss and gradients as the plain pass, with dropout active.</summary>
// Two passes must draw the same dropout masks from torch's process-wide generator: no test may run beside them.
[Collection(DebertaSharp.Tests.Training.SerialTorchRng.Name)]
public class GradientCheckpointingTests
{
    private const string Json = """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":["p2c","c2p"],"position_biased_input":false,"conv_kernel_size":3,"hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1}""";

    [Theory]
    [InlineData("fast", false, false)]
    [InlineData("chunked", false, false)]
    [InlineData("reference", false, false)]
    [InlineData("fast", true, false)]
    [InlineData("fast", false, true)]      // HF initialisation: equal (zero) biases must still get their own gradients
    public void GradientsEqualThePlainPass(string mode, bool outputAttentions, bool initialWeights)
    {
        manual_seed(4);
        using var model = initialWeights
            ? new DebertaModel(FastAttentionTests.Config(Json, "checkpointing"))
            : FastAttentionTests.Model(FastAttentionTests.Config(Json, "checkpointing"));
        model.train();
        manual_seed(5);
        var ids = randint(1, 50, [2, 12], dtype: ScalarType.Int64);
        var mask = ones(2, 12, dtype: ScalarType.Int64);
        mask[1, TensorIndex.Slice(9)] = 0;
        var weights = randn(2, 12, model.Config.HiddenSize);

        (double Loss, Dictionary<string, Tensor> Grads) Step(bool checkpoint, bool touch = false)
        {
            model.AttentionOptions = FastAttentionTests.Options(mode) with { GradientCheckpointing = checkpoint };
            model.zero_grad();
            manual_seed(42);                                               // same dropout masks for both passes
            using var scope = NewDisposeScope();
            using var output = model.Forward(ids, mask, outputAttentions: outputAttentions);
            var loss = (output.LastHiddenState * weights).sum();
            if (outputAttentions) loss = loss + output.Attentions!.Select(a => a.square().sum()).Aggregate((a, b) => a + b);
            if (touch) CheckpointProbe.TouchLayerWeights(model);        // only a pass that recomputes the layers in backward survives this
            loss.backward();
            var missing = model.named_parameters().Where(p => p.parameter.grad is null).Select(p => p.name).ToList();
            Assert.True(missing.Count == 0, $"no gradient for {string.Join(", ", missing)}");
            var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone().DetachFromDisposeScope());
            foreach (var p in model.parameters()) p.grad = null;                 // the next pass must fill every gradient itself
            return (loss.item<float>(), grads);
        }

        var (plainLoss, plain) = Step(false);
        // The probe can fail: the plain pass saved the layers' weights for backward.
        Assert.ThrowsAny<Exception>(() => Step(false, touch: true));
        var (checkpointedLoss, checkpointed) = Step(true, touch: true);
        Assert.Equal(plainLoss, checkpointedLoss, 1e-5);
        foreach (var (name, grad) in plain)
        {
            var (diff, limit) = Parity.Compare(checkpointed[name], grad);
            Assert.True(diff <= limit, $"{mode}: grad {name} max|Δ| {diff:E3} > {limit:E3}");
        }
        // Dropout was active: the gradients differ from those of a pass with other masks.
        var (otherLoss, _) = StepWithSeed(model, ids, mask, weights, seed: 43);
        Assert.NotEqual(plainLoss, otherLoss);
    }

    private static (double, object?) StepWithSeed(DebertaModel model, Tensor ids, Tensor mask, Tensor weights, int seed)
    {
        manual_seed(seed);
        using var scope = NewDisposeScope();
        using var output = model.Forward(ids, mask);
        return ((output.LastHiddenState * weights).sum().item<float>(), null);
    }

    [Fact]
    public void CheckpointedTrainingStepLeavesNoLiveTensors()
    {
        using var model = FastAttentionTests.Model(FastAttentionTests.Config(Json, "checkpointing"));
        model.train();
        model.AttentionOptions = new AttentionOptions { GradientCheckpointing = true };
        var ids = randint(1, 50, [2, 9], dtype: ScalarType.Int64);
        void Step()
        {
            using var scope = NewDisposeScope();
            using var output = model.Forward(ids);
            output.LastHiddenState.sum().backward();
        }
        Step();
        model.zero_grad();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) Step();
        model.zero_grad();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
