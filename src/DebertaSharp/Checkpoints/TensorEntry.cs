using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// What a checkpoint says about one tensor, known without reading its data: name, element type, shape and size.
/// </summary>
public sealed class TensorEntry
{
    /// <summary>Creates an entry; <paramref name="shape"/> is copied.</summary>
    /// <param name="name">The state-dict key, e.g. <c>deberta.embeddings.word_embeddings.weight</c>.</param>
    /// <param name="dtype">The dtype name as in a safetensors header (see <see cref="TensorDTypes.Names"/>).</param>
    /// <param name="shape">The dimensions; empty for a 0-d (scalar) tensor.</param>
    /// <param name="byteLength">The number of bytes of the tensor's data (elements × element size).</param>
    public TensorEntry(string name, string dtype, IReadOnlyList<long> shape, long byteLength)
    {
        Name = name;
        DType = dtype;
        Shape = shape.ToArray();
        ByteLength = byteLength;
    }

    /// <summary>The state-dict key.</summary>
    public string Name { get; }

    /// <summary>The element type as spelled in a safetensors header: F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL.</summary>
    public string DType { get; }

    /// <summary>The element type as a TorchSharp scalar type.</summary>
    public torch.ScalarType ScalarType => TensorDTypes.ToScalarType(DType);

    /// <summary>The dimensions; empty for a 0-d (scalar) tensor. Do not modify.</summary>
    public long[] Shape { get; }

    /// <summary>The number of elements (1 for a 0-d tensor).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    /// <summary>The number of bytes of the tensor's data.</summary>
    public long ByteLength { get; }

    /// <summary>The shape written as <c>[d0, d1, ...]</c>, for messages.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as <c>[d0, d1, ...]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => Shapes.Format(shape);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType} {ShapeText}";
}
