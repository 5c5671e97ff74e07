using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// The projections of the relative table that layers keep between inference passes: used only in eval mode without
/// autograd, and rebuilt whenever the parameters they come from change (in place, by dtype, by training).
/// </summary>
public class InferenceCacheTests
{
    private const string V3 = """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":["p2c","c2p"],"position_biased_input":false}""";
    private const string V2Separate = """{"model_type":"deberta-v2","relative_attention":true,"max_relative_positions":16,"share_att_key":false,"pos_att_type":["c2p","p2c"]}""";
    private const string V1 = """{"model_type":"deberta","relative_attention":true,"max_relative_positions":4,"pos_att_type":["c2p","p2c"],"position_biased_input":false}""";

    private static Tensor Cached(DebertaModel model, Tensor ids)
    {
        using var _ = inference_mode();
        using var output = model.Forward(ids);
        return output.LastHiddenState.clone();
    }

    // Eval mode with autograd on: nothing is kept, everything is projected in this pass.
    private static Tensor Uncached(DebertaModel model, Tensor ids)
    {
        using var output = model.Forward(ids);
        return output.LastHiddenState.detach().clone();
    }

    private static void AssertClose(Tensor actual, Tensor expected, string what) => Parity.AssertClose(actual, expected, what);

    [Theory]
    [InlineData(V3, 20, "encoder.layer.1.attention.self.key_proj.weight")]
    [InlineData(V3, 7, "encoder.layer.0.attention.self.query_proj.bias")]
    [InlineData(V3, 20, "encoder.rel_embeddings.weight")]
    [InlineData(V3, 20, "encoder.LayerNorm.weight")]
    [InlineData(V2Separate, 12, "encoder.layer.0.attention.self.pos_key_proj.weight")]
    [InlineData(V2Separate, 12, "encoder.layer.1.attention.self.pos_query_proj.weight")]
    [InlineData(V1, 9, "encoder.layer.0.attention.self.pos_proj.weight")]
    [InlineData(V1, 9, "encoder.rel_embeddings.weight")]
    public void AnInPlaceChangeOfASourceWeightIsSeen(string json, int length, string parameter)
    {
        using var model = FastAttentionTests.Model(FastAttentionTests.Config(json, parameter));
        model.eval();
        manual_seed(4);
        var ids = randint(1, 50, [2, length], dtype: ScalarType.Int64);
        var before = Cached(model, ids);
        AssertClose(before, Uncached(model, ids), "kept projections, first pass");
        AssertClose(Cached(model, ids), before, "kept projections, second pass");

        var weight = model.named_parameters().Single(p => p.name == parameter).parameter;
        using (no_grad()) weight.add_(randn_like(weight) * 0.5);
        var after = Cached(model, ids);
        Assert.True((after - before).abs().max().item<float>() > 1e-3, $"changing {parameter} must change the output");
        AssertClose(after, Uncached(model, ids), $"after changing {parameter}");
    }

    [Fact]
    public void DtypeChangeAndTrainingRebuildTheProjections()
    {
        using var model = FastAttentionTests.Model(FastAttentionTests.Config(V3, "dtype"));
        model.eval();
        manual_seed(4);
        var ids = randint(1, 50, [2, 20], dtype: ScalarType.Int64);
        Cached(model, ids);
        model.to(ScalarType.Float64);
        var wide = Cached(model, ids);
        Assert.Equal(ScalarType.Float64, wide.dtype);
        AssertClose(wide, Uncached(model, ids), "float64 after float32 pass");

        // A training step in between: the next inference pass sees the new weights.
        model.train();
        using (var output = model.Forward(ids)) output.LastHiddenState.sum().backward();
        using (no_grad())
            foreach (var p in model.parameters())
                if (p.grad is not null) p.sub_(p.grad * 0.1);
        model.eval();
        AssertClose(Cached(model, ids), Uncached(model, ids), "after a training step");
    }

    [Fact]
    public void PlanIsArithmeticOnTheRowsInUse()
    {
        var options = new AttentionOptions();
        // deberta-v3-base (head size 64, 256 buckets): at 128 every distance has its own row (255 of 255 columns).
        Assert.Equal(AttentionPath.Shifted, AttentionPlan.Choose(options, 128, 128, 255, 64));
        // At 512, 1023 distance columns share 511 rows: 512 extra columns × 64 > 16 × 512, gather.
        Assert.Equal(AttentionPath.Gathered, AttentionPlan.Choose(options, 512, 512, 511, 64));
        // A narrow head makes the extra columns cheap: shift.
        Assert.Equal(AttentionPath.Shifted, AttentionPlan.Choose(options, 512, 512, 511, 8));
        Assert.Equal(AttentionPath.Chunked, AttentionPlan.Choose(options, 2048, 2048, 511, 64));
        Assert.Equal(AttentionPath.Gathered, AttentionPlan.Choose(options, 64, 64, 0, 64));        // no relative attention
        Assert.Equal(AttentionPath.Reference,
            AttentionPlan.Choose(new AttentionOptions { Implementation = AttentionImplementation.Reference }, 2048, 2048, 511, 64));
    }
}
