using DebertaSharp.Modeling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

public class TensorOpsTests
{
    [Fact]
    public void AddBatchedProductIsInputPlusProductWithGradients()
    {
        manual_seed(1);
        var input = randn(2, 2, 3).requires_grad_();
        var a = randn(2, 2, 4).requires_grad_();
        var b = randn(2, 4, 3).requires_grad_();
        var result = TensorOps.AddBatchedProduct(input, a, b);
        var expected = input + a.bmm(b);
        Assert.True((result - expected).abs().max().item<float>() < 1e-6);
        result.sum().backward();
        Assert.True(input.grad!.eq(1).all().item<bool>());
        Assert.True((a.grad! - ones(2, 2, 3).bmm(b.transpose(1, 2))).abs().max().item<float>() < 1e-6);
    }
}
