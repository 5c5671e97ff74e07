using System.Buffers.Binary;
using System.Text.Json;
using DebertaSharp.IO;
using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// Writes <c>.safetensors</c> files that HuggingFace tools read: a JSON header with
/// <c>"__metadata__": {"format": "pt", ...}</c>, entries sorted by name, data contiguous in that order, and the
/// header padded with spaces to a multiple of 8 bytes. Writing is atomic (see <see cref="AtomicFile"/>).
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Saves named tensors to <paramref name="path"/>. Tensors may live on any device (they are copied to the CPU)
    /// and be non-contiguous; tensors sharing memory are written as separate copies.
    /// </summary>
    /// <param name="path">The target file; replaced atomically if it exists.</param>
    /// <param name="tensors">Name and tensor pairs; enumerated once. The tensors are not disposed.</param>
    /// <param name="metadata">Extra <c>__metadata__</c> strings; <c>format</c> defaults to <c>pt</c>, a given value wins.</param>
    /// <exception cref="CheckpointException">
    /// A name is empty, repeated or <c>__metadata__</c>, a dtype is not one of F32, F16, BF16, F64, I64, I32, I16, I8,
    /// U8, BOOL, or the file cannot be written. The previous file, if any, is then left intact.
    /// </exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        string full = Path.GetFullPath(path);
        // The temporary file exists from here on, so a failure while the caller's enumeration runs is cleaned up too.
        AtomicFile.Write(full, stream =>
        {
            var items = Collect(full, tensors);
            var header = BuildHeader(items, metadata);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, tensor, _) in items)
            {
                WriteData(tensor, stream);
            }
        });
    }

    private static List<(string Name, torch.Tensor Tensor, string DType)> Collect(
        string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        var items = new List<(string, torch.Tensor, string)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
            {
                throw new CheckpointException($"Cannot save '{path}': '{name}' is not a valid tensor name.");
            }
            if (!names.Add(name))
            {
                throw new CheckpointException($"Cannot save '{path}': the tensor name '{name}' is given twice.");
            }
            ArgumentNullException.ThrowIfNull(tensor, name);
            var dtype = TensorDTypes.TryFromScalarType(tensor.dtype)
                ?? throw new CheckpointException($"Cannot save '{path}': tensor '{name}' has dtype {tensor.dtype}, which safetensors output here does not support.");
            items.Add((name, tensor, dtype));
        }
        items.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return items;
    }

    private static byte[] BuildHeader(List<(string Name, torch.Tensor Tensor, string DType)> items,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            var meta = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
            if (metadata is not null)
            {
                foreach (var (k, v) in metadata)
                {
                    meta[k] = v;
                }
            }
            foreach (var (k, v) in meta)
            {
                json.WriteString(k, v);
            }
            json.WriteEndObject();

            long offset = 0;
            foreach (var (name, tensor, dtype) in items)
            {
                long bytes = checked(tensor.numel() * TensorDTypes.SizeOf(dtype));
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (long d in tensor.shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = checked((int)((buffer.Length + 7) / 8 * 8));
        while (buffer.Length < padded)
        {
            buffer.WriteByte((byte)' ');
        }
        return buffer.ToArray();
    }

    private static void WriteData(torch.Tensor tensor, Stream stream)
    {
        using var detached = tensor.detach();
        using var cpu = detached.cpu();
        using var contiguous = cpu.contiguous();
        TensorMemory.WriteTo(contiguous, stream);
    }
}
