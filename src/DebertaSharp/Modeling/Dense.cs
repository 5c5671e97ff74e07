using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The one place the model's dense (Linear) layers run. Every projection, feed-forward and head Linear of the model
/// goes through <see cref="Forward(nn.Module{Tensor, Tensor}, Tensor)"/>, so how a matrix product is computed (kernel, precision) is decided here once,
/// not at each call site.
/// </summary>
internal static class Dense
{
    /// <summary>
    /// Runs <paramref name="layer"/> on <paramref name="x"/>: a plain <see cref="Linear"/> through <see cref="Linear(Tensor, Tensor, Tensor?)"/>,
    /// any other module (an adapter such as LoRA, which calls <see cref="Linear(Tensor, Tensor, Tensor?)"/> for its base) through its own forward.
    /// </summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> layer, Tensor x) =>
        layer is Linear linear ? Linear(x, linear.weight!, linear.bias) : layer.forward(x);

    /// <summary>
    /// <paramref name="activation"/>(<see cref="Forward(nn.Module{Tensor, Tensor}, Tensor)"/>): HF's feed-forward and
    /// head transforms. The exact GELU after a plain <see cref="Linear"/> is fused into the product where
    /// <see cref="DenseKernels"/> runs it (float32 CPU inference); everything else applies <see cref="Activations"/> after.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">Unknown activation.</exception>
    public static Tensor Forward(nn.Module<Tensor, Tensor> layer, Tensor x, string activation)
    {
        if (activation == "gelu" && layer is Linear linear && Autocast.ComputeType is null
            && DenseKernels.Applies(x, linear.weight!, linear.bias))
            return DenseKernels.Linear(x, linear.weight!, linear.bias, gelu: true);
        using var scope = NewDisposeScope();
        return Activations.Apply(activation, Forward(layer, x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x·Wᵀ + b; <paramref name="x"/> [..., in], <paramref name="weight"/> [out, in], <paramref name="bias"/> [out] → [..., out].
    /// Under <see cref="Autocast"/> a float32 product runs in its compute type and returns float32; otherwise float32
    /// CPU inference (autograd off) takes the kernel <see cref="DenseKernels"/> chooses; everything else libtorch's <c>linear</c>.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (Autocast.ComputeType is { } low && x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32)
            return LowPrecisionLinear(x, weight, bias, low);
        return DenseKernels.Applies(x, weight, bias) ? DenseKernels.Linear(x, weight, bias) : nn.functional.linear(x, weight, bias);
    }

    // Mixed precision: the casts are in the autograd graph, so the float32 masters get float32 gradients.
    private static Tensor LowPrecisionLinear(Tensor x, Tensor weight, Tensor? bias, ScalarType low)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(x.to(low), weight.to(low), bias?.to(low)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
