using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>The stage profiler behind <c>peer --profile</c>, and the flat p2c index of the gathered layout.</summary>
public class ForwardProfileTests
{
    [Fact]
    public void RecordsTheStagesOfAForwardPassAndNothingWhenStopped()
    {
        var config = FastAttentionTests.Config("""{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":["p2c","c2p"],"position_biased_input":false}""", "profile");
        using var model = FastAttentionTests.Model(config);
        model.eval();
        using var ids = randint(1, 50, [1, 20], dtype: ScalarType.Int64);
        using var _ = no_grad();
        IReadOnlyList<(string Stage, double Milliseconds, long Count)> stages;
        using (var profile = ForwardProfile.Start())
        {
            Assert.Throws<InvalidOperationException>(() => ForwardProfile.Start());      // one at a time
            model.Forward(ids).Dispose();
            stages = profile.Stages;
        }
        var names = stages.Select(s => s.Stage).ToList();
        foreach (var stage in new[] { "input validation", "embeddings", "relative context", "q, k, v projections", "c2p scores", "p2c scores", "mask + softmax", "probabilities · v", "feed-forward output dense + LayerNorm" })
            Assert.Contains(stage, names);
        Assert.Equal(2, stages.Single(s => s.Stage == "mask + softmax").Count);              // two layers
        Assert.All(stages, s => Assert.True(s.Milliseconds >= 0));

        ForwardProfile.Mark("after stop");                                                  // no profile: ignored
        using var again = ForwardProfile.Start();
        Assert.Empty(again.Stages);
    }

    [Fact]
    public void KeyRowIndexPointsAtKeyRowThenTableRow()
    {
        // index[i, j] (row of the relative table for query i, key j) over R = 5 rows: flat[i·Lk + j] = j·R + index[i, j].
        using var index = tensor(new long[] { 2, 1, 0, 3, 2, 1 }, [2, 3]);
        using var flat = RelativeContext.KeyRowIndex(index, 5);
        Assert.Equal(new long[] { 1, 1, 6 }, flat.shape);
        Assert.Equal(new long[] { 2, 6, 10, 3, 7, 11 }, flat.data<long>().ToArray());
    }
}
