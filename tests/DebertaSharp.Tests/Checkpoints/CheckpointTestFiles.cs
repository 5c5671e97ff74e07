using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using TorchSharp;

namespace DebertaSharp.Tests.Checkpoints;

/// <summary>Fixture paths and small builders for checkpoint tests.</summary>
internal static class CheckpointTestFiles
{
    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static string Golden(params string[] parts) => Path.Combine([Fixtures, "golden", .. parts]);

    public static string CheckpointFixture(string name) => Path.Combine(Fixtures, "checkpoints", name);

    /// <summary>Every model/inputs/expected safetensors file of the golden cases copied into the fixtures.</summary>
    public static IEnumerable<string> GoldenSafetensors() =>
        Directory.EnumerateFiles(Path.Combine(Fixtures, "golden"), "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    /// <summary>Writes a raw safetensors file: length prefix (the real one unless overridden), header text, data bytes.</summary>
    public static void WriteRawSafetensors(string path, string header, int dataBytes, ulong? lengthOverride = null)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        using var f = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, lengthOverride ?? (ulong)headerBytes.Length);
        f.Write(len);
        f.Write(headerBytes);
        f.Write(new byte[dataBytes]);
    }

    /// <summary>Writes a torch.save-style zip: <c>prefix/data.pkl</c>, <c>prefix/data/key</c> records, <c>prefix/version</c>.</summary>
    public static void WriteTorchZip(string path, string prefix, byte[] pickle, IReadOnlyDictionary<string, byte[]> records)
    {
        using var f = File.Create(path);
        using var zip = new ZipArchive(f, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(bytes);
        }
        Add(prefix + "/data.pkl", pickle);
        foreach (var (key, bytes) in records)
        {
            Add(prefix + "/data/" + key, bytes);
        }
        Add(prefix + "/version", Encoding.ASCII.GetBytes("3\n"));
    }

    /// <summary>Same dtype, same shape and the same bytes (so NaN payloads and -0 count).</summary>
    public static bool Identical(torch.Tensor a, torch.Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && Bytes(a).AsSpan().SequenceEqual(Bytes(b));

    public static byte[] Bytes(torch.Tensor t)
    {
        using var c = t.contiguous();
        return c.bytes.ToArray();
    }
}

/// <summary>A throw-away folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "debertasharp-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Hand-assembles pickle bytes (protocol 2 opcodes), so tests need no Python at run time.</summary>
internal sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [0x80, 2];

    public PickleBuilder Op(char op) { _bytes.Add((byte)op); return this; }

    public PickleBuilder Raw(params byte[] bytes) { _bytes.AddRange(bytes); return this; }

    public PickleBuilder Global(string module, string name) =>
        Op('c').Raw(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));

    public PickleBuilder Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Op('X');
        var len = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(len, b.Length);
        return Raw(len).Raw(b);
    }

    public PickleBuilder Int(long v)
    {
        if (v is >= 0 and < 256) return Op('K').Raw((byte)v);
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        return Raw(0x8a, 8).Raw(b); // LONG1
    }

    public PickleBuilder Ints(params long[] values)
    {
        Op('(');
        foreach (var v in values) Int(v);
        return Op('t');
    }

    /// <summary>Pushes _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).</summary>
    public PickleBuilder Tensor(string storageClass, string key, long numel, long offset, long[] size, long[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2");
        Op('(');
        Op('(').Str("storage").Global("torch", storageClass).Str(key).Str("cpu").Int(numel).Op('t').Op('Q');
        Int(offset).Ints(size).Ints(stride).Raw(0x89);
        Global("collections", "OrderedDict").Op(')').Op('R');
        return Op('t').Op('R');
    }

    public byte[] Build() => [.. _bytes];
}
