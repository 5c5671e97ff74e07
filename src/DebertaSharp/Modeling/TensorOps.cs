using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>Tensor operations whose TorchSharp binding needs care.</summary>
internal static class TensorOps
{
    /// <summary>
    /// <paramref name="input"/> + <paramref name="batch1"/>·<paramref name="batch2"/> in one kernel (<c>baddbmm</c>), all
    /// [N, ·, ·]. TorchSharp 0.107 rotates baddbmm's arguments: <c>x.baddbmm(y, z)</c> and <c>torch.baddbmm(x, y, z)</c>
    /// compute z + x·y, not x + y·z (seen; <c>TensorOpsTests</c> pins it so that a fixed binding is noticed).
    /// </summary>
    public static Tensor AddBatchedProduct(Tensor input, Tensor batch1, Tensor batch2) => batch1.baddbmm(batch2, input);

    /// <summary>
    /// [..., n, m] → a new contiguous [..., m, n]. Copies each 2-D slice from its transposed view, which libtorch copies
    /// in cache-sized tiles (a whole-tensor <c>transpose(…).contiguous()</c> reads with a stride of a row and measured
    /// 2.4× slower at 512 × 512 on the 2-core AMD EPYC of the benchmarks). Slices below 60 × 60, other devices, and
    /// inputs autograd records take the plain copy: under autograd every slice copy is a graph node of its own, and the
    /// per-slice loop made a tiny model's training step (the quick start) ~1.7× slower.
    /// </summary>
    public static Tensor TransposeLastTwo(Tensor input)
    {
        long n = input.shape[^2], m = input.shape[^1];
        var batchShape = input.shape[..^2];
        var source = input.contiguous().view(-1, n, m);                                  // [N, n, m]
        if (input.device_type != DeviceType.CPU || n * m < 60 * 60 || (input.requires_grad && is_grad_enabled()))
            return source.transpose(1, 2).contiguous().view([.. batchShape, m, n]);
        var result = empty([source.shape[0], m, n], dtype: input.dtype, device: input.device);
        for (long i = 0; i < source.shape[0]; i++)
        {
            using var slice = source[i];
            using var transposed = slice.t();                                             // [m, n], strides (1, m)
            using var target = result[i];
            target.copy_(transposed);
        }
        return result.view([.. batchShape, m, n]);
    }

    /// <summary>
    /// A tensor's values on the host as float32, row-major (detached, any device or float dtype): the one copy of model
    /// outputs into managed arrays for the pipelines and the fine-tuning evaluators.
    /// </summary>
    public static float[] ToFloats(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }
}
