using DebertaSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

public class GradientClippingTests
{
    [Theory]
    [InlineData(0.5)]    // clips
    [InlineData(100.0)]  // leaves the gradients as they are
    public void MatchesTorchClipGradNorm(double maxNorm)
    {
        var generator = new Generator(3UL);
        var ours = new[] { new Parameter(zeros(4, 3)), new Parameter(zeros(5)), new Parameter(zeros(2)) };
        var reference = new[] { new Parameter(zeros(4, 3)), new Parameter(zeros(5)), new Parameter(zeros(2)) };
        for (int i = 0; i < 2; i++)   // the third parameter has no gradient
        {
            var g = randn(ours[i].shape, generator: generator);
            ours[i].grad = g.clone();
            reference[i].grad = g.clone();
        }
        double norm = GradientClipping.ClipGradNorm(ours, maxNorm);
        double expectedNorm = nn.utils.clip_grad_norm_(reference.Take(2), maxNorm);
        Assert.Equal(expectedNorm, norm, 1e-5);
        for (int i = 0; i < 2; i++)
            Assert.True((ours[i].grad! - reference[i].grad!).abs().max().item<float>() <= 1e-7);
        Assert.Null(ours[2].grad);
        using var clippedNorm = linalg.vector_norm(cat([ours[0].grad!.flatten(), ours[1].grad!.flatten()]), 2);
        Assert.True(clippedNorm.item<float>() <= Math.Min(norm, maxNorm) + 1e-5);
    }

    [Fact]
    public void NoGradientsGiveZero() => Assert.Equal(0.0, GradientClipping.ClipGradNorm([new Parameter(ones(2))], 1.0));
}
