using System.Diagnostics;
using DebertaSharp.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Diagnostics;

/// <summary>One matrix product of the GEMM floor: <c>matmul</c> of random tensors shaped <see cref="Left"/> and <see cref="Right"/>.</summary>
/// <param name="Name">What the product is in the model (e.g. "Q·Krᵀ").</param>
/// <param name="Left">Shape of the left operand.</param>
/// <param name="Right">Shape of the right operand (broadcast over the left's batch dimensions where shorter).</param>
public sealed record FloorProduct(string Name, long[] Left, long[] Right)
{
    /// <summary>Multiply-adds of the product.</summary>
    public double MultiplyAdds
    {
        get
        {
            double batch = Left.Take(Left.Length - 2).Aggregate(1.0, (a, b) => a * b);
            return batch * Left[^2] * Left[^1] * Right[^1];
        }
    }
}

/// <summary>
/// The GEMM floor of a forward pass: the time of the matrix products the reference algorithm (HF's) cannot avoid,
/// each run alone on random inputs made just before it and freed at once. Per layer: the Q, K, V and output
/// projections, the FFN up and down products, the query and key projections of the whole 2·span-row relative table,
/// and the batched QKᵀ, AV, Q·Krᵀ and K·Qrᵀ, the last two against all 2·span rows. Elementwise work (softmax,
/// LayerNorm, GELU, gathers) and the embeddings are not counted, so a forward pass cannot reach it unless it skips
/// products the reference does.
/// </summary>
public static class GemmFloor
{
    /// <summary>The products of one forward pass over [<paramref name="batch"/>, <paramref name="length"/>], all layers.</summary>
    public static IReadOnlyList<FloorProduct> Products(DebertaConfig config, long batch, long length)
    {
        long n = batch * length, hidden = config.HiddenSize, heads = config.NumAttentionHeads, d = config.HeadSize;
        long all = heads * d, inner = config.IntermediateSize;
        bool relative = config.RelativeAttention;
        long span = config.ModelType == DebertaModelType.Deberta
            ? Math.Min(length, config.EffectiveMaxRelativePositions)
            : config.PositionEmbeddingSpan;
        long rows = 2 * span;
        var layer = new List<FloorProduct>
        {
            new("Q projection", [n, hidden], [hidden, all]),
            new("K projection", [n, hidden], [hidden, all]),
            new("V projection", [n, hidden], [hidden, all]),
            new("output projection", [n, all], [all, hidden]),
            new("FFN up", [n, hidden], [hidden, inner]),
            new("FFN down", [n, inner], [inner, hidden]),
            new("QKᵀ", [batch, heads, length, d], [batch, heads, d, length]),
            new("AV", [batch, heads, length, length], [batch, heads, length, d]),
        };
        if (relative && config.UsesC2P)
        {
            layer.Add(new("relative table key projection", [rows, hidden], [hidden, all]));
            layer.Add(new("Q·Krᵀ", [batch, heads, length, d], [heads, d, rows]));
        }
        if (relative && config.UsesP2C)
        {
            layer.Add(new("relative table query projection", [rows, hidden], [hidden, all]));
            layer.Add(new("K·Qrᵀ", [batch, heads, length, d], [heads, d, rows]));
        }
        return Enumerable.Range(0, config.NumHiddenLayers).SelectMany(_ => layer).ToList();
    }

    /// <summary>
    /// Runs every product of <see cref="Products"/> once in <paramref name="dtype"/> on <paramref name="device"/> and
    /// returns the summed time of the products alone (making and freeing the random inputs is not timed).
    /// </summary>
    public static TimeSpan Measure(DebertaConfig config, long batch, long length, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        device ??= CPU;
        using var inference = inference_mode();
        long ticks = 0;
        foreach (var product in Products(config, batch, length))
        {
            using var scope = NewDisposeScope();
            var right = randn(product.Right, dtype: dtype, device: device);
            // Products with an operand or result above MaxElements (long inputs: QKᵀ and AV at 1×8192 are 3.2 GB each
            // in float32) run in slices of the left operand's rows: the same multiply-adds, bounded memory.
            long rows = product.Left[^2];
            double biggest = Math.Max(product.Left.Aggregate(1.0, (a, b) => a * b), product.MultiplyAdds / product.Left[^1]);
            long slices = Math.Min(rows, (long)Math.Ceiling(biggest / MaxElements));
            long perSlice = (rows + slices - 1) / slices;
            for (long first = 0; first < rows; first += perSlice)
            {
                var shape = (long[])product.Left.Clone();
                shape[^2] = Math.Min(perSlice, rows - first);
                using var left = randn(shape, dtype: dtype, device: device);
                Synchronize(device);
                long start = Stopwatch.GetTimestamp();
                using (var result = left.matmul(right)) Synchronize(device);
                ticks += Stopwatch.GetTimestamp() - start;
            }
        }
        return Stopwatch.GetElapsedTime(0, ticks);
    }

    /// <summary>Largest operand or result of one timed product, in elements (64 Mi: 256 MB in float32).</summary>
    public const long MaxElements = 64L << 20;

    /// <summary>Waits for queued GPU work, so that a timer read after it includes that work (no-op on the CPU).</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
