using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// The element types a checkpoint may hold, named as in the safetensors header
/// (<c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>F64</c>, <c>I64</c>, <c>I32</c>, <c>I16</c>, <c>I8</c>, <c>U8</c>, <c>BOOL</c>),
/// and their mapping to TorchSharp scalar types.
/// </summary>
public static class TensorDTypes
{
    private static readonly (string Name, torch.ScalarType Type, int Size)[] Table =
    [
        ("F32", torch.ScalarType.Float32, 4),
        ("F16", torch.ScalarType.Float16, 2),
        ("BF16", torch.ScalarType.BFloat16, 2),
        ("F64", torch.ScalarType.Float64, 8),
        ("I64", torch.ScalarType.Int64, 8),
        ("I32", torch.ScalarType.Int32, 4),
        ("I16", torch.ScalarType.Int16, 2),
        ("I8", torch.ScalarType.Int8, 1),
        ("U8", torch.ScalarType.Byte, 1),
        ("BOOL", torch.ScalarType.Bool, 1),
    ];

    /// <summary>The dtype names this library reads and writes, in the spelling of the safetensors header.</summary>
    public static IReadOnlyList<string> Names { get; } = Table.Select(t => t.Name).ToArray();

    /// <summary>True when <paramref name="name"/> is one of <see cref="Names"/> (case-sensitive, as the format requires).</summary>
    public static bool IsKnown(string name) => Table.Any(t => t.Name == name);

    /// <summary>The TorchSharp scalar type of a dtype name; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public static torch.ScalarType ToScalarType(string name)
    {
        foreach (var t in Table)
        {
            if (t.Name == name) return t.Type;
        }
        throw new ArgumentException($"Unknown tensor dtype '{name}'; known: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>The safetensors dtype name of a TorchSharp scalar type, or null when the type has none here (complex, float8, ...).</summary>
    public static string? TryFromScalarType(torch.ScalarType type)
    {
        foreach (var t in Table)
        {
            if (t.Type == type) return t.Name;
        }
        return null;
    }

    /// <summary>Bytes per element of a dtype name; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public static int SizeOf(string name)
    {
        foreach (var t in Table)
        {
            if (t.Name == name) return t.Size;
        }
        throw new ArgumentException($"Unknown tensor dtype '{name}'; known: {string.Join(", ", Names)}.", nameof(name));
    }
}
