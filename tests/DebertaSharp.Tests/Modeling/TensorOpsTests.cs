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

public class TransposeLastTwoTests
{
    [Theory]
    [InlineData(2, 3, 70, 65)]     // slices above 60 × 60: libtorch's tiled transposed copy
    [InlineData(1, 2, 5, 7)]       // small slices: the plain copy
    public void EqualsTransposedCopy(int a, int b, int n, int m)
    {
        manual_seed(2);
        var input = randn(a, b, n, m);
        var result = TensorOps.TransposeLastTwo(input);
        Assert.Equal(new long[] { a, b, m, n }, result.shape);
        Assert.True(result.is_contiguous());
        Assert.True(result.eq(input.transpose(-1, -2)).all().item<bool>());
    }
}
