using System.Text.Json;
using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// One read interface over a HuggingFace-style checkpoint: a folder holding <c>model.safetensors</c>,
/// a sharded <c>model.safetensors.index.json</c>, <c>pytorch_model.bin</c> or a sharded
/// <c>pytorch_model.bin.index.json</c> (looked for in that order, so safetensors wins when both exist), or one of
/// those files given directly. Entries (dtype, shape) are known without reading data; tensors are read one at a
/// time and converted on request. Not thread-safe.
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    /// <summary>The file names looked for in a folder, in order of preference.</summary>
    public static IReadOnlyList<string> KnownFileNames { get; } =
        ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    private const long MaxIndexBytes = 64L << 20;

    private readonly ITensorFile[] _files;
    private readonly Dictionary<string, ITensorFile> _fileOf;
    private readonly string[] _keys;

    private CheckpointReader(string location, ITensorFile[] files, Dictionary<string, ITensorFile> fileOf, string[] keys)
    {
        Location = location;
        _files = files;
        _fileOf = fileOf;
        _keys = keys;
    }

    /// <summary>The file that was opened: the single checkpoint file, or the index file of a sharded checkpoint.</summary>
    public string Location { get; }

    /// <summary>The files that hold the tensors (one, or every shard).</summary>
    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToArray();

    /// <summary>Every tensor name, in file order (shard by shard for a sharded checkpoint).</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>
    /// Opens a checkpoint folder or file. A folder is searched for <see cref="KnownFileNames"/> in order; a file is
    /// taken by its name (<c>*.safetensors</c>, <c>*.index.json</c>) or, failing that, by its first bytes.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// Nothing to load (the message names the folder and the file names looked for), or a file is unreadable or corrupt.
    /// </exception>
    public static CheckpointReader Open(string folderOrFile)
    {
        ArgumentNullException.ThrowIfNull(folderOrFile);
        string full = Path.GetFullPath(folderOrFile);
        if (Directory.Exists(full))
        {
            foreach (var name in KnownFileNames)
            {
                string candidate = Path.Combine(full, name);
                if (File.Exists(candidate))
                {
                    return OpenFile(candidate);
                }
            }
            throw new CheckpointException(
                $"No checkpoint in the folder '{full}': looked for {string.Join(", ", KnownFileNames)}.");
        }
        if (File.Exists(full))
        {
            return OpenFile(full);
        }
        throw new CheckpointException($"No checkpoint at '{full}': no such file or folder.");
    }

    private static CheckpointReader OpenFile(string path)
    {
        string name = Path.GetFileName(path);
        if (name.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
        {
            return OpenSharded(path);
        }
        var file = OpenSingle(path);
        return Single(path, file);
    }

    private static ITensorFile OpenSingle(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            return SafetensorsFile.Open(path);
        }
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
            || path.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || LooksLikePyTorch(path))
        {
            return PyTorchBinFile.Open(path);
        }
        return SafetensorsFile.Open(path);
    }

    private static bool LooksLikePyTorch(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            int first = s.ReadByte();
            return first == 'P' || first == 0x80;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"Cannot open checkpoint file '{path}': {e.Message}", e);
        }
    }

    private static CheckpointReader Single(string path, ITensorFile file)
    {
        var fileOf = file.Entries.ToDictionary(e => e.Name, _ => file, StringComparer.Ordinal);
        return new CheckpointReader(path, [file], fileOf, file.Entries.Select(e => e.Name).ToArray());
    }

    private static CheckpointReader OpenSharded(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        string folder = Path.GetDirectoryName(indexPath)!;
        bool safetensors = Path.GetFileName(indexPath).Contains(".safetensors.", StringComparison.OrdinalIgnoreCase);

        var files = new List<ITensorFile>();
        try
        {
            var byShard = new Dictionary<string, ITensorFile>(StringComparer.Ordinal);
            foreach (var shard in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))   // shard files in name order (00001, 00002, …), not first-key order
            {
                string shardPath = Path.Combine(folder, shard);
                if (!File.Exists(shardPath))
                {
                    throw new CheckpointException($"The index '{indexPath}' names the shard '{shard}', which does not exist in '{folder}'.");
                }
                ITensorFile file = safetensors ? SafetensorsFile.Open(shardPath) : PyTorchBinFile.Open(shardPath);
                files.Add(file);
                byShard.Add(shard, file);
            }

            foreach (var (key, shard) in weightMap)
            {
                if (byShard[shard].Find(key) is null)
                {
                    throw new CheckpointException($"The index '{indexPath}' puts '{key}' in the shard '{shard}', which does not hold it.");
                }
            }
            // Keys in file order, shard by shard; a key a shard holds but the index does not list is not part of the checkpoint.
            var fileOf = new Dictionary<string, ITensorFile>(StringComparer.Ordinal);
            var keys = new List<string>();
            foreach (var (shard, file) in byShard)
            {
                foreach (var entry in file.Entries)
                {
                    if (weightMap.TryGetValue(entry.Name, out var listed) && listed == shard)
                    {
                        fileOf.Add(entry.Name, file);
                        keys.Add(entry.Name);
                    }
                }
            }
            return new CheckpointReader(indexPath, files.ToArray(), fileOf, keys.ToArray());
        }
        catch
        {
            foreach (var f in files)
            {
                f.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// The <c>weight_map</c> of a shard index (key → shard file name), checked: valid strict JSON, string values, each a
    /// plain file name in the index's folder, no key twice, not empty. The one reader of index files (loading and the Hub's download of the shards).
    /// </summary>
    /// <exception cref="CheckpointException">The index breaks one of these rules; the message names it.</exception>
    internal static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        static CheckpointException Error(string message, Exception inner) =>
            new CheckpointException($"Bad checkpoint index: {message}", inner);
        byte[] bytes = StrictJson.ReadFile(indexPath, MaxIndexBytes, Error);

        try
        {
            using var doc = StrictJson.Parse(bytes, indexPath, Error);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException($"The checkpoint index '{indexPath}' has no 'weight_map' object.");
            }
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in map.EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.String)
                {
                    throw new CheckpointException($"The checkpoint index '{indexPath}' maps '{item.Name}' to a JSON {item.Value.ValueKind}, not a file name.");
                }
                string shard = item.Value.GetString()!;
                if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard is "." or ".." || Path.IsPathRooted(shard))
                {
                    throw new CheckpointException($"The checkpoint index '{indexPath}' maps '{item.Name}' to '{shard}', which is not a file name in the index's folder.");
                }
                if (!result.TryAdd(item.Name, shard))
                {
                    throw new CheckpointException($"The checkpoint index '{indexPath}' lists '{item.Name}' twice.");
                }
            }
            if (result.Count == 0)
            {
                throw new CheckpointException($"The checkpoint index '{indexPath}' has an empty 'weight_map'.");
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"The checkpoint index '{indexPath}' is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>True when the checkpoint holds <paramref name="key"/>.</summary>
    public bool Contains(string key) => _fileOf.ContainsKey(key);

    /// <summary>The dtype, shape and size of <paramref name="key"/>, without reading its data.</summary>
    /// <exception cref="CheckpointException">The checkpoint has no such key.</exception>
    public TensorEntry GetEntry(string key) => FileOf(key).Find(key)!;

    /// <summary>The path of the file that holds <paramref name="key"/>.</summary>
    /// <exception cref="CheckpointException">The checkpoint has no such key.</exception>
    public string SourceOf(string key) => FileOf(key).Path;

    /// <summary>
    /// Reads <paramref name="key"/> into a new tensor, converted to <paramref name="dtype"/> and moved to
    /// <paramref name="device"/> when given (otherwise the file's dtype, on the CPU). The caller owns the result.
    /// </summary>
    /// <exception cref="CheckpointException">The checkpoint has no such key, or its data cannot be read.</exception>
    public torch.Tensor Read(string key, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        var file = FileOf(key);
        var tensor = file.Read(key);
        if (dtype is null && device is null)
        {
            return tensor;
        }
        torch.Tensor converted;
        try
        {
            converted = tensor.to(dtype ?? tensor.dtype, device ?? tensor.device);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
        TensorMemory.DisposeIfNew(tensor, converted);
        return converted;
    }

    /// <summary>
    /// Copies <paramref name="key"/> into an existing tensor (typically a model parameter), converting its dtype and
    /// moving it to the destination's device, without recording autograd history. The shapes must be equal:
    /// nothing is ever broadcast. When the destination is a contiguous CPU tensor of the file's dtype the bytes go
    /// straight from the file into it; into another dtype or device a safetensors tensor is converted a bounded chunk at
    /// a time, so no full-size copy in the file's dtype is made.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// The checkpoint has no such key, or its shape differs from the destination's (the message names the key and both shapes).
    /// </exception>
    public void CopyInto(string key, torch.Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var file = FileOf(key);
        var entry = file.Find(key)!;
        var shape = destination.shape;
        if (!shape.SequenceEqual(entry.Shape))
        {
            throw new CheckpointException(
                $"Cannot load '{key}' from '{file.Path}': the checkpoint has shape {entry.ShapeText} but the destination " +
                $"has shape {TensorEntry.FormatShape(shape)} (shapes must match exactly; nothing is broadcast).");
        }
        using var noGrad = torch.no_grad();
        if (file.TryReadInto(key, destination) || file.TryConvertInto(key, destination))
        {
            return;
        }
        using var source = file.Read(key);
        TensorMemory.DisposeIfNew(destination.copy_(source), destination);
    }

    private ITensorFile FileOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _fileOf.TryGetValue(key, out var file)
            ? file
            : throw new CheckpointException($"The checkpoint '{Location}' has no tensor '{key}'.");
    }

    /// <summary>Closes every file. Tensors already read stay valid.</summary>
    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Dispose();
        }
    }
}
