namespace DebertaSharp;

/// <summary>The one way messages write a tensor shape: <c>[2, 128, 768]</c>, as PyTorch prints <c>torch.Size</c>'s values.</summary>
internal static class Shapes
{
    /// <summary>The shape in brackets, comma-separated.</summary>
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
