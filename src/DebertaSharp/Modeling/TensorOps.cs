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
}
