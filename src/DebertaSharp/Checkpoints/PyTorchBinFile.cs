using System.IO.Compression;
using System.Text;
using TorchSharp;
using static DebertaSharp.Checkpoints.StateDictUnpickler;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// A <c>pytorch_model.bin</c> written by <c>torch.save(state_dict)</c> in the zip format of torch 1.6 and later:
/// <c>&lt;archive&gt;/data.pkl</c> (the pickled dict) and one record <c>&lt;archive&gt;/data/&lt;key&gt;</c> per storage.
/// The pickle is read by a restricted reader that executes nothing; tensors are strided views of storages
/// (offsets, strides and storages shared between tensors are supported). Storage records are streamed from the
/// archive straight into tensor memory on each <see cref="Read"/>. Not thread-safe.
/// </summary>
public sealed class PyTorchBinFile : IDisposable, ITensorFile
{
    /// <summary>The largest <c>data.pkl</c> accepted (256 MB); a state dict's pickle is a few hundred kilobytes.</summary>
    public const long MaxPickleBytes = 256L << 20;

    private readonly ZipArchive _zip;
    private readonly ZipDirectory _directory;
    private readonly string _prefix;
    private readonly TensorEntry[] _entries;
    private readonly Dictionary<string, (TensorEntry Entry, TensorRef View)> _byName;
    private bool _disposed;

    private PyTorchBinFile(string path, ZipArchive zip, ZipDirectory directory, string prefix, TensorEntry[] entries,
        Dictionary<string, (TensorEntry, TensorRef)> byName)
    {
        Path = path;
        _zip = zip;
        _directory = directory;
        _prefix = prefix;
        _entries = entries;
        _byName = byName;
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The tensors in the order of the pickled state dict.</summary>
    public IReadOnlyList<TensorEntry> Entries => _entries;

    /// <summary>Opens a zip-format PyTorch checkpoint and reads its pickle (not the tensor data).</summary>
    /// <exception cref="CheckpointException">
    /// The file is missing, a legacy (pre-1.6) <c>torch.save</c> file, not a zip, has no single
    /// <c>&lt;archive&gt;/data.pkl</c>, is big-endian, its pickle names a global other than the few a state dict needs,
    /// is malformed, or a tensor view lies outside its storage record. The message names the file.
    /// </exception>
    public static PyTorchBinFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string fullPath = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"Cannot open PyTorch checkpoint '{fullPath}': {e.Message}", e);
        }

        ZipArchive? zip = null;
        try
        {
            CheckSignature(fullPath, stream);
            // Our own strict reading of the directory first: ZipArchive checks no CRC, no overlap, no size against the file.
            var directory = ZipDirectory.Read(fullPath, stream);
            stream.Position = 0;
            try
            {
                zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
            }
            catch (InvalidDataException e)
            {
                throw new CheckpointException($"'{fullPath}' is not a readable zip archive: {e.Message}", e);
            }

            var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
            if (pickles.Count != 1)
            {
                throw new CheckpointException(
                    $"'{fullPath}' is not a torch.save archive: expected exactly one '<archive>/data.pkl' entry, found {pickles.Count}.");
            }
            if (zip.Entries.Count != directory.Records.Count || zip.Entries.Any(e => !directory.Records.ContainsKey(e.FullName)))
            {
                throw new CheckpointException($"'{fullPath}' is not a sound zip archive: its records are not the ones of its central directory.");
            }
            string prefix = pickles[0].FullName[..^"data.pkl".Length];
            CheckByteOrder(fullPath, zip, directory, prefix);

            var pickleBytes = ReadSmallEntry(fullPath, pickles[0], directory, MaxPickleBytes);
            var root = StateDictUnpickler.Load(pickleBytes, $"{fullPath}:{pickles[0].FullName}");
            if (root is not PyDict dict)
            {
                throw new CheckpointException($"'{fullPath}' does not hold a state dict: the top-level pickled object is not a dict.");
            }
            var (entries, byName) = BuildEntries(fullPath, zip, directory, prefix, dict);
            var result = new PyTorchBinFile(fullPath, zip, directory, prefix, entries, byName);
            zip = null;
            stream = null!;
            return result;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or EndOfStreamException or IOException)
        {
            // ZipArchive reads its central directory lazily, so damage can surface on any access to it.
            throw new CheckpointException($"'{fullPath}' is not a readable zip archive: {e.Message}", e);
        }
        finally
        {
            if (zip is not null)
            {
                zip.Dispose(); // also closes the stream
            }
            else
            {
                stream?.Dispose();
            }
        }
    }

    private static void CheckSignature(string path, FileStream stream)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        stream.Position = 0;
        if (got >= 1 && magic[0] == 0x80)
        {
            throw new CheckpointException(
                $"'{path}' is a legacy (non-zip) torch.save file, written by torch before 1.6 or with " +
                "_use_new_zipfile_serialization=False; that format is not supported. Convert it once with Python, e.g. " +
                "`import torch; from safetensors.torch import save_file; " +
                "save_file(torch.load('pytorch_model.bin', map_location='cpu'), 'model.safetensors', metadata={'format': 'pt'})` " +
                "(tied weights may need .clone()), or re-save it with torch.save(torch.load(path), path) on torch 1.6 or later.");
        }
        if (got < 4 || magic[0] != (byte)'P' || magic[1] != (byte)'K' || magic[2] != 3 || magic[3] != 4)
        {
            throw new CheckpointException($"'{path}' is not a PyTorch zip checkpoint (it does not start with a zip signature).");
        }
    }

    private static void CheckByteOrder(string path, ZipArchive zip, ZipDirectory directory, string prefix)
    {
        var entry = zip.GetEntry(prefix + "byteorder");
        if (entry is null)
        {
            return; // torch before 2.1 wrote no byteorder record and always little-endian data
        }
        string order = Encoding.ASCII.GetString(ReadSmallEntry(path, entry, directory, 64)).Trim();
        if (order != "little")
        {
            throw new CheckpointException($"'{path}' stores tensors in '{order}' byte order; only little-endian checkpoints are supported.");
        }
    }

    private static byte[] ReadSmallEntry(string path, ZipArchiveEntry entry, ZipDirectory directory, long limit)
    {
        if (entry.Length > limit)
        {
            throw new CheckpointException($"'{path}': the record '{entry.FullName}' has {entry.Length} bytes, above the {limit}-byte limit.");
        }
        try
        {
            using var s = entry.Open();
            var bytes = new byte[entry.Length];
            ZipDirectory.CheckedRead(path, directory.Records[entry.FullName], s, checkedStream => checkedStream.ReadExactly(bytes));
            return bytes;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            throw new CheckpointException($"'{path}': cannot read the record '{entry.FullName}': {e.Message}", e);
        }
    }

    private static (TensorEntry[], Dictionary<string, (TensorEntry, TensorRef)>) BuildEntries(
        string path, ZipArchive zip, ZipDirectory directory, string prefix, PyDict dict)
    {
        var entries = new List<TensorEntry>();
        var byName = new Dictionary<string, (TensorEntry, TensorRef)>(StringComparer.Ordinal);
        var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        foreach (var (keyObject, value) in dict.Items)
        {
            if (keyObject is not string key)
            {
                throw new CheckpointException($"'{path}': the state dict has a key that is not a string.");
            }
            if (value is not TensorRef view)
            {
                throw new CheckpointException($"'{path}': the state-dict entry '{key}' is not a tensor.");
            }
            if (byName.ContainsKey(key))
            {
                throw new CheckpointException($"'{path}': the state-dict key '{key}' appears twice.");
            }
            var storage = view.Storage;
            if (storages.TryGetValue(storage.Key, out var known))
            {
                if (known != storage)
                {
                    throw new CheckpointException(
                        $"'{path}', tensor '{key}': storage '{storage.Key}' is described as {storage.StorageClass}[{storage.ElementCount}] " +
                        $"here but as {known.StorageClass}[{known.ElementCount}] elsewhere.");
                }
            }
            else
            {
                CheckStorageRecord(path, zip, directory, prefix, storage, key);
                storages.Add(storage.Key, storage);
            }
            var entry = CheckView(path, key, view);
            entries.Add(entry);
            byName.Add(key, (entry, view));
        }
        return (entries.ToArray(), byName);
    }

    private static void CheckStorageRecord(string path, ZipArchive zip, ZipDirectory directory, string prefix, StorageRef storage, string key)
    {
        string recordName = prefix + "data/" + storage.Key;
        var record = zip.GetEntry(recordName)
            ?? throw new CheckpointException($"'{path}', tensor '{key}': the storage record '{recordName}' is missing.");
        long expected;
        try
        {
            expected = checked(storage.ElementCount * TensorDTypes.SizeOf(TensorDTypes.TryFromScalarType(storage.DType)!));
        }
        catch (OverflowException)
        {
            throw new CheckpointException($"'{path}', tensor '{key}': the storage size {storage.ElementCount} overflows.");
        }
        if (record.Length != expected || directory.Records[recordName].UncompressedSize != expected)
        {
            throw new CheckpointException(
                $"'{path}', tensor '{key}': the storage record '{recordName}' has {record.Length} bytes but " +
                $"{storage.StorageClass}[{storage.ElementCount}] needs {expected}.");
        }
        // Sizes against the file and deflate's expansion limit were checked by ZipDirectory.Read.
    }

    private static TensorEntry CheckView(string path, string key, TensorRef view)
    {
        string dtype = TensorDTypes.TryFromScalarType(view.Storage.DType)!;
        string where = $"'{path}', tensor '{key}' (size {TensorEntry.FormatShape(view.Size)}, stride {TensorEntry.FormatShape(view.Stride)}, offset {view.StorageOffset})";
        if (view.StorageOffset < 0 || view.Size.Any(d => d < 0) || view.Stride.Any(s => s < 0))
        {
            throw new CheckpointException($"{where}: negative sizes, strides or offsets are not supported.");
        }
        try
        {
            long numel = 1;
            long last = view.StorageOffset;
            for (int i = 0; i < view.Size.Length; i++)
            {
                numel = checked(numel * view.Size[i]);
                if (view.Size[i] > 0)
                {
                    last = checked(last + (view.Size[i] - 1) * view.Stride[i]);
                }
            }
            if (numel > 0 && last >= view.Storage.ElementCount)
            {
                throw new CheckpointException(
                    $"{where}: the view reaches element {last} of storage '{view.Storage.Key}', which has {view.Storage.ElementCount}.");
            }
            return new TensorEntry(key, dtype, view.Size, checked(numel * TensorDTypes.SizeOf(dtype)));
        }
        catch (OverflowException)
        {
            throw new CheckpointException($"{where}: the view's size overflows.");
        }
    }

    /// <summary>True when the state dict holds <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry of <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointException">The state dict holds no such key.</exception>
    public TensorEntry GetEntry(string name) =>
        Find(name) ?? throw new CheckpointException($"The PyTorch checkpoint '{Path}' has no tensor '{name}'.");

    /// <summary>The entry of <paramref name="name"/>, or null when the state dict has none.</summary>
    public TensorEntry? Find(string name) => _byName.TryGetValue(name, out var e) ? e.Entry : null;

    /// <summary>
    /// Reads a tensor into a new, contiguous CPU tensor of the file's dtype. Its storage record is streamed into
    /// tensor memory; a view of part of a storage is then copied out so the rest of the storage is released.
    /// </summary>
    /// <exception cref="CheckpointException">The key is absent or the record cannot be read.</exception>
    public torch.Tensor Read(string name)
    {
        GetEntry(name);
        var (entry, view) = _byName[name];
        var storage = ReadStorage(name, view.Storage);
        try
        {
            if (CoversWholeStorage(view))
            {
                return storage.view(entry.Shape);
            }
            using var strided = storage.as_strided(view.Size, view.Stride, view.StorageOffset);
            // clone() of a contiguous view drops the rest of the storage; contiguous() of a strided one copies anyway.
            return strided.is_contiguous() ? strided.clone() : strided.contiguous();
        }
        finally
        {
            storage.Dispose();
        }
    }

    /// <inheritdoc/>
    bool ITensorFile.TryReadInto(string name, torch.Tensor destination)
    {
        var (entry, view) = _byName.TryGetValue(name, out var found) ? found : throw new CheckpointException($"The PyTorch checkpoint '{Path}' has no tensor '{name}'.");
        if (!CoversWholeStorage(view) || destination.device_type != DeviceType.CPU || destination.dtype != entry.ScalarType
            || !destination.is_contiguous() || !destination.shape.SequenceEqual(entry.Shape))
        {
            return false;
        }
        StreamRecord(name, view.Storage, destination);
        return true;
    }

    private static bool CoversWholeStorage(TensorRef view)
    {
        if (view.StorageOffset != 0)
        {
            return false;
        }
        long expectedStride = 1;
        long numel = 1;
        for (int i = view.Size.Length - 1; i >= 0; i--)
        {
            if (view.Size[i] != 1 && view.Stride[i] != expectedStride)
            {
                return false;
            }
            expectedStride *= view.Size[i];
            numel *= view.Size[i];
        }
        return numel == view.Storage.ElementCount;
    }

    private torch.Tensor ReadStorage(string name, StorageRef storage)
    {
        var tensor = torch.empty([storage.ElementCount], storage.DType, torch.CPU);
        try
        {
            StreamRecord(name, storage, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private void StreamRecord(string name, StorageRef storage, torch.Tensor destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string recordName = _prefix + "data/" + storage.Key;
        try
        {
            using var s = _zip.GetEntry(recordName)!.Open();
            ZipDirectory.CheckedRead(Path, _directory.Records[recordName], s, checkedStream => TensorMemory.ReadFrom(destination, checkedStream));
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or EndOfStreamException or IOException)
        {
            throw new CheckpointException($"'{Path}', tensor '{name}': cannot read the storage record '{recordName}': {e.Message}", e);
        }
    }

    /// <summary>Closes the archive. Tensors already read stay valid.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _zip.Dispose();
        }
    }
}
