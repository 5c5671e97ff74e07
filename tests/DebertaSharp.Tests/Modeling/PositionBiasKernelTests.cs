using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// <see cref="PositionBiasKernel"/> (the managed c2p + p2c pass of float32 CPU inference) against libtorch's gathers,
/// shift, transpose and add: the same bits on every configuration variant, on the fast (gathered and shifted) and
/// chunked paths, on one and two threads.
/// </summary>
public class PositionBiasKernelTests
{
    public static IEnumerable<object[]> Cases() =>
        from v in FastAttentionTests.Variants()
        from mode in new[] { "fast", "chunked" }
        from threads in new[] { 1, 2 }
        select new object[] { v.Name, mode, threads };

    [Theory]
    [MemberData(nameof(Cases))]
    public void SameBitsAsLibtorchsPath(string variant, string mode, int threads)
    {
        var (_, json, length) = FastAttentionTests.Variants().Single(v => v.Name == variant);
        using var model = FastAttentionTests.Model(FastAttentionTests.Config(json, variant));
        model.eval();
        model.AttentionOptions = FastAttentionTests.Options(mode);
        var (ids, mask) = FastAttentionTests.Inputs(length);
        int before = get_num_threads();
        try
        {
            set_num_threads(threads);
            using var _ = inference_mode();
            PositionBiasKernel.Enabled = false;
            using var expected = model.Forward(ids, mask, outputAttentions: true);
            PositionBiasKernel.Enabled = true;
            using var actual = model.Forward(ids, mask, outputAttentions: true);
            Assert.True(actual.LastHiddenState.equal(expected.LastHiddenState).all().item<bool>(), $"{variant} {mode} {threads}T: last hidden state differs");
            for (int i = 0; i < expected.Attentions!.Count; i++)
                Assert.True(actual.Attentions![i].equal(expected.Attentions[i]).all().item<bool>(), $"{variant} {mode} {threads}T: attentions.{i} differ");
        }
        finally
        {
            PositionBiasKernel.Enabled = true;
            set_num_threads(before);
        }
    }

    [Fact]
    public void TakesOnlyFloat32CpuTensorsWithAutogradOff()
    {
        using var scores = zeros(1, 2, 4, 7);
        Assert.False(PositionBiasKernel.Applies(scores, scores, 32));                         // autograd on
        using (no_grad())
        {
            Assert.True(PositionBiasKernel.Applies(scores, null, 32));
            Assert.False(PositionBiasKernel.Applies(null, null, 32));
            using var half = scores.to(ScalarType.BFloat16);
            Assert.False(PositionBiasKernel.Applies(half, null, 32));
            using var strided = scores.transpose(2, 3);
            Assert.False(PositionBiasKernel.Applies(scores, strided, 32));
            Assert.False(PositionBiasKernel.Applies(scores, null, int.MaxValue));               // beyond a Span's reach
        }
    }

    [Fact]
    public void GatheredAndShiftedMatchAHandWorkedCase()
    {
        // One head, Lq = Lk = 2, rows in use R = 3, row(r) for r = −1, 0, 1 = 0, 1, 2.
        using var _ = no_grad();
        using var c2p = tensor(new float[] { 1, 2, 3, 10, 20, 30 }).view(1, 1, 2, 3);        // query by row
        using var p2c = tensor(new float[] { 100, 200, 300, 1000, 2000, 3000 }).view(1, 1, 2, 3);
        using var bias = PositionBiasKernel.Gathered(c2p, p2c, [0, 1, 2], 0, 2, 2);
        // bias[i, j] = p2c[j, row(i − j)] + c2p[i, row(i − j)]
        Assert.Equal(new float[] { 200 + 2, 1000 + 1, 300 + 30, 2000 + 20 }, bias.data<float>().ToArray());
        // Shifted (W = 3): c2p columns descending distance 1, 0, −1; p2c columns ascending −1, 0, 1.
        using var shifted = PositionBiasKernel.Shifted(c2p, p2c, 2, 2);
        // c2p[i, j] = c2pByDistance[i, j − i + 1], p2c[i, j] = p2cByDistance[j, i − j + 1]
        Assert.Equal(new float[] { 200 + 2, 1000 + 3, 300 + 10, 2000 + 20 }, shifted.data<float>().ToArray());
    }

    // More keys than one run of the kernel (512) and not a multiple of its eight-key step, a chunk of query rows that
    // starts inside the sequence, one and two threads, each score tensor alone and both: against the formulas, summed
    // here element by element.
    [Theory]
    [InlineData(1, true, true)]
    [InlineData(2, true, true)]
    [InlineData(1, true, false)]
    [InlineData(1, false, true)]
    public void LongRowsMatchTheFormulas(int threads, bool withC2P, bool withP2C)
    {
        const int heads = 2, queries = 40, keys = 1100, rows = 50, start = 3, count = 29;
        int before = get_num_threads();
        try
        {
            set_num_threads(threads);
            using var _ = no_grad();
            var random = new Random(7);
            var distanceRows = Enumerable.Range(0, queries + keys - 1).Select(_ => random.Next(rows)).ToArray();
            using var c2p = randn(1, heads, queries, rows);
            using var p2c = randn(1, heads, keys, rows);
            float[] c = c2p.data<float>().ToArray(), p = p2c.data<float>().ToArray();
            using var gathered = PositionBiasKernel.Gathered(withC2P ? c2p : null, withP2C ? p2c : null, distanceRows, start, count, keys);
            Assert.Equal(new long[] { 1, heads, count, keys }, gathered.shape);
            var g = gathered.data<float>().ToArray();
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < count; i++)
                    for (int j = 0; j < keys; j++)
                    {
                        int q = start + i, r = distanceRows[q - j + keys - 1];
                        float expected = (withP2C ? p[(h * keys + j) * rows + r] : 0) + (withC2P ? c[(h * queries + q) * rows + r] : 0);
                        if (g[(h * count + i) * keys + j] != expected)
                            Assert.Fail($"gathered [{h}, {i}, {j}]: {g[(h * count + i) * keys + j]}, expected {expected}");
                    }

            const int width = queries + keys - 1;
            using var c2pByDistance = randn(1, heads, queries, width);
            using var p2cByDistance = randn(1, heads, keys, width);
            float[] cd = c2pByDistance.data<float>().ToArray(), pd = p2cByDistance.data<float>().ToArray();
            using var shifted = PositionBiasKernel.Shifted(withC2P ? c2pByDistance : null, withP2C ? p2cByDistance : null, queries, keys);
            var sh = shifted.data<float>().ToArray();
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < queries; i++)
                    for (int j = 0; j < keys; j++)
                    {
                        float expected = (withP2C ? pd[(h * keys + j) * width + i - j + keys - 1] : 0)
                                         + (withC2P ? cd[(h * queries + i) * width + j - i + queries - 1] : 0);
                        if (sh[(h * queries + i) * keys + j] != expected)
                            Assert.Fail($"shifted [{h}, {i}, {j}]: {sh[(h * queries + i) * keys + j]}, expected {expected}");
                    }
        }
        finally
        {
            set_num_threads(before);
        }
    }
}
