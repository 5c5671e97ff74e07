using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// A read-only <c>.safetensors</c> file: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}</c>), then the data section.
/// The header is read through a memory mapping and validated strictly when the file is opened; tensor data is read
/// with positional reads straight into the storage of the destination tensors, so the file is never held in managed
/// memory and its pages never count towards this process's resident memory (loading a model takes the weights' size,
/// not twice that). Not thread-safe.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable, ITensorFile
{
    /// <summary>The largest JSON header accepted (100 MB); real headers are a few hundred kilobytes at most.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private readonly MemoryMappedFile _map;
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;
    private readonly long _dataStart;
    private readonly TensorEntry[] _entries;
    private readonly Dictionary<string, (TensorEntry Entry, long Begin)> _byName;

    /// <summary>Bytes converted per step by <see cref="ITensorFile.TryConvertInto"/>.</summary>
    private const long ConversionChunkBytes = 32L << 20;

    private SafetensorsFile(string path, MemoryMappedFile map, Microsoft.Win32.SafeHandles.SafeFileHandle handle, MemoryMappedViewAccessor view, byte* basePointer,
        long dataStart, IReadOnlyDictionary<string, string> metadata, TensorEntry[] entries,
        Dictionary<string, (TensorEntry, long)> byName)
    {
        Path = path;
        _map = map;
        _handle = handle;
        _view = view;
        _base = basePointer;
        _dataStart = dataStart;
        Metadata = metadata;
        _entries = entries;
        _byName = byName;
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> string pairs of the header (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors in file order (by position in the data section).</summary>
    public IReadOnlyList<TensorEntry> Entries => _entries;

    /// <summary>
    /// Opens and validates a safetensors file.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// The file is missing, unreadable, shorter than 8 bytes, has a header length beyond the file or above
    /// <see cref="MaxHeaderBytes"/>, a header that is not a JSON object, an entry without dtype/shape/data_offsets,
    /// an unknown dtype, a negative dimension, a size that does not match its offsets, offsets outside the data
    /// section or overlapping, or a name given twice. The message names the file and, where it applies, the tensor.
    /// </exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string fullPath = System.IO.Path.GetFullPath(path);
        long fileLength;
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* basePointer = null;
        try
        {
            FileStream stream;
            try
            {
                stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointException($"Cannot open safetensors file '{fullPath}': {e.Message}", e);
            }
            fileLength = stream.Length;
            if (fileLength < 8)
            {
                stream.Dispose();
                throw Invalid(fullPath, $"the file has {fileLength} bytes, fewer than the 8-byte header length.");
            }
            try
            {
                map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stream.Dispose();
                throw new CheckpointException($"Cannot map safetensors file '{fullPath}': {e.Message}", e);
            }
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
            basePointer += view.PointerOffset;

            var (dataStart, metadata, entries, byName) = ParseHeader(fullPath, basePointer, fileLength);
            Microsoft.Win32.SafeHandles.SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointException($"Cannot open safetensors file '{fullPath}': {e.Message}", e);
            }
            return new SafetensorsFile(fullPath, map, handle, view, basePointer, dataStart, metadata, entries, byName);
        }
        catch
        {
            if (basePointer != null)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }
            view?.Dispose();
            map?.Dispose();
            throw;
        }
    }

    private static (long DataStart, IReadOnlyDictionary<string, string> Metadata, TensorEntry[] Entries,
        Dictionary<string, (TensorEntry, long)> ByName) ParseHeader(string path, byte* basePointer, long fileLength)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
        if (headerLength > MaxHeaderBytes)
        {
            throw Invalid(path, $"the header length {headerLength} is above the {MaxHeaderBytes}-byte limit.");
        }
        if (headerLength > (ulong)(fileLength - 8))
        {
            throw Invalid(path, $"the header length {headerLength} runs past the end of the file ({fileLength} bytes).");
        }
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var headerBytes = new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength).ToArray();

        // Strict JSON: bad UTF-8, lone surrogate escapes and a name given twice are all refused, naming the file.
        JsonDocument document = StrictJson.Parse(headerBytes, path,
            (message, inner) => new CheckpointException($"Invalid safetensors header: {message}", inner));
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, $"the header is a JSON {root.ValueKind}, not an object.");
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var parsed = new List<(TensorEntry Entry, long Begin, long End, int Order)>();
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw Invalid(path, $"the name '{property.Name}' appears twice in the header.", property.Name);
                }
                if (property.Name == MetadataKey)
                {
                    ReadMetadata(path, property.Value, metadata);
                    continue;
                }
                var (entry, begin, end) = ReadEntry(path, property.Name, property.Value, dataLength);
                parsed.Add((entry, begin, end, parsed.Count));
            }

            // The format requires the data section to be indexed entirely: sorted by position, each tensor starts where
            // the previous one ended and the last ends at the end of the file (as safetensors' own validate() checks).
            // Anything else is a hole, an overlap or trailing bytes, and is how a shifted header length shows up.
            parsed.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End != b.End ? a.End.CompareTo(b.End) : a.Order.CompareTo(b.Order));
            long covered = 0;
            string? previousName = null;
            foreach (var p in parsed)
            {
                if (p.Begin < covered)
                {
                    throw Invalid(path, $"its bytes [{p.Begin}, {p.End}) overlap those of '{previousName}' (ending at {covered}).", p.Entry.Name);
                }
                if (p.Begin > covered)
                {
                    throw Invalid(path, $"the data section has a hole: bytes [{covered}, {p.Begin}) belong to no tensor.", p.Entry.Name);
                }
                covered = p.End;
                previousName = p.Entry.Name;
            }
            if (covered != dataLength)
            {
                throw Invalid(path, $"the tensors cover {covered} bytes of the {dataLength}-byte data section; {dataLength - covered} trailing bytes belong to no tensor (a wrong header length shifts every tensor).");
            }

            var entries = parsed.Select(p => p.Entry).ToArray();
            var byName = parsed.ToDictionary(p => p.Entry.Name, p => (p.Entry, p.Begin), StringComparer.Ordinal);
            return (dataStart, metadata, entries, byName);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, $"'{MetadataKey}' is a JSON {value.ValueKind}, not an object of strings.");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Invalid(path, $"'{MetadataKey}' entry '{item.Name}' is a JSON {item.Value.ValueKind}, not a string.");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw Invalid(path, $"'{MetadataKey}' entry '{item.Name}' appears twice.");
            }
        }
    }

    private static (TensorEntry Entry, long Begin, long End) ReadEntry(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(path, $"the entry is a JSON {value.ValueKind}, not an object.", name);
        }
        if (!value.TryGetProperty("dtype", out var dtypeElement))
        {
            throw Invalid(path, "the entry has no 'dtype'.", name);
        }
        if (!value.TryGetProperty("shape", out var shapeElement))
        {
            throw Invalid(path, "the entry has no 'shape'.", name);
        }
        if (!value.TryGetProperty("data_offsets", out var offsetsElement))
        {
            throw Invalid(path, "the entry has no 'data_offsets'.", name);
        }

        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Invalid(path, $"'dtype' is a JSON {dtypeElement.ValueKind}, not a string.", name);
        }
        string dtype = dtypeElement.GetString()!;
        if (!TensorDTypes.IsKnown(dtype))
        {
            throw Invalid(path, $"unknown or unsupported dtype '{dtype}' (supported: {string.Join(", ", TensorDTypes.Names)}).", name);
        }

        if (shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(path, $"'shape' is a JSON {shapeElement.ValueKind}, not an array.", name);
        }
        var shape = new List<long>();
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d))
            {
                throw Invalid(path, $"'shape' holds {dim.GetRawText()}, not an integer.", name);
            }
            if (d < 0)
            {
                throw Invalid(path, $"'shape' has the negative dimension {d}.", name);
            }
            shape.Add(d);
        }

        if (offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
        {
            throw Invalid(path, $"'data_offsets' must be an array of two integers, got {offsetsElement.GetRawText()}.", name);
        }
        long begin = ReadOffset(path, name, offsetsElement[0]);
        long end = ReadOffset(path, name, offsetsElement[1]);
        if (end < begin)
        {
            throw Invalid(path, $"'data_offsets' [{begin}, {end}] ends before it begins.", name);
        }
        if (end > dataLength)
        {
            throw Invalid(path, $"'data_offsets' [{begin}, {end}] lie outside the data section of {dataLength} bytes.", name);
        }

        long byteLength;
        try
        {
            long elements = 1;
            foreach (long d in shape)
            {
                elements = checked(elements * d);
            }
            byteLength = checked(elements * TensorDTypes.SizeOf(dtype));
        }
        catch (OverflowException)
        {
            throw Invalid(path, $"the size of shape {TensorEntry.FormatShape(shape)} x {dtype} overflows a 64-bit integer.", name);
        }
        if (byteLength != end - begin)
        {
            throw Invalid(path, $"shape {TensorEntry.FormatShape(shape)} of {dtype} needs {byteLength} bytes but 'data_offsets' [{begin}, {end}] hold {end - begin}.", name);
        }
        return (new TensorEntry(name, dtype, shape, byteLength), begin, end);
    }

    private static long ReadOffset(string path, string name, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long value) || value < 0)
        {
            throw Invalid(path, $"'data_offsets' holds {element.GetRawText()}, not a non-negative 64-bit integer.", name);
        }
        return value;
    }

    private static CheckpointException Invalid(string path, string detail, string? name = null) =>
        new(name is null
            ? $"Invalid safetensors file '{path}': {detail}"
            : $"Invalid safetensors file '{path}', tensor '{name}': {detail}");

    /// <summary>True when the file holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry of <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointException">The file holds no such tensor.</exception>
    public TensorEntry GetEntry(string name) =>
        Find(name) ?? throw new CheckpointException($"The safetensors file '{Path}' has no tensor '{name}'.");

    /// <summary>The entry of <paramref name="name"/>, or null when the file has none.</summary>
    public TensorEntry? Find(string name) => _byName.TryGetValue(name, out var e) ? e.Entry : null;

    /// <summary>Reads a tensor into a new CPU tensor of the file's dtype and shape (one copy, from the mapping into the tensor).</summary>
    /// <exception cref="CheckpointException">The file holds no such tensor.</exception>
    public torch.Tensor Read(string name)
    {
        var entry = GetEntry(name);
        var tensor = torch.empty(entry.Shape, entry.ScalarType, torch.CPU);
        try
        {
            CopyData(name, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    bool ITensorFile.TryReadInto(string name, torch.Tensor destination)
    {
        var entry = GetEntry(name);
        if (destination.device_type != DeviceType.CPU || destination.dtype != entry.ScalarType
            || !destination.is_contiguous() || !destination.shape.SequenceEqual(entry.Shape))
        {
            return false;
        }
        CopyData(name, destination);
        return true;
    }

    /// <inheritdoc/>
    bool ITensorFile.TryConvertInto(string name, torch.Tensor destination) => TryConvertInto(name, destination, ConversionChunkBytes);

    /// <summary><see cref="ITensorFile.TryConvertInto"/> with <paramref name="chunkBytes"/> file bytes per step.</summary>
    internal bool TryConvertInto(string name, torch.Tensor destination, long chunkBytes)
    {
        var entry = GetEntry(name);
        if (!destination.is_contiguous() || !destination.shape.SequenceEqual(entry.Shape))
        {
            return false;
        }
        ObjectDisposedException.ThrowIf(_base == null, this);
        long begin = _byName[name].Begin;
        long elementSize = TensorDTypes.SizeOf(entry.DType);
        long total = entry.ByteLength / elementSize;
        long perChunk = Math.Max(1, Math.Min(total, chunkBytes / elementSize));
        using var noGrad = torch.no_grad();
        using var staging = torch.empty(perChunk, entry.ScalarType, torch.CPU);
        using var flat = destination.view(-1);
        for (long start = 0; start < total; start += perChunk)
        {
            long count = Math.Min(perChunk, total - start);
            using var source = staging.narrow(0, 0, count);
            Read(name, source, _dataStart + begin + start * elementSize);
            using var target = flat.narrow(0, start, count);
            TensorMemory.DisposeIfNew(target.copy_(source), target);
        }
        return true;
    }

    private void CopyData(string name, torch.Tensor destination)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        var (entry, begin) = _byName[name];
        long expected = checked(destination.numel() * destination.element_size());
        if (expected != entry.ByteLength)
        {
            throw new InvalidOperationException($"Internal error: reading {entry.ByteLength} bytes into a tensor of {expected} bytes.");
        }
        Read(name, destination, _dataStart + begin);
    }

    private void Read(string name, torch.Tensor destination, long offset)
    {
        try
        {
            TensorMemory.ReadFrom(destination, _handle, offset);
        }
        catch (Exception e) when (e is IOException)
        {
            throw new CheckpointException($"Cannot read tensor '{name}' from safetensors file '{Path}': {e.Message}", e);
        }
    }

    /// <summary>Unmaps and closes the file. Tensors already read stay valid.</summary>
    public void Dispose()
    {
        if (_base != null)
        {
            _base = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map.Dispose();
            _handle.Dispose();
        }
    }
}
