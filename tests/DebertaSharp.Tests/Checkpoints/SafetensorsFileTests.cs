using System.Text.Json;
using DebertaSharp.Checkpoints;
using TorchSharp;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Checkpoints;

public class SafetensorsFileTests
{
    private static readonly Lazy<Dictionary<string, Dictionary<string, JsonElement>>> Manifest = new(() =>
        JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, JsonElement>>>(
            File.ReadAllText(CheckpointFixture("golden-manifest.json")))!);

    [Fact]
    public void EveryGoldenFileReadsWithTheKeysAndShapesOfThePythonManifest()
    {
        // golden-manifest.json was written by Python's json module from the same headers (make_fixtures-style, once).
        var files = GoldenSafetensors().ToList();
        Assert.True(files.Count >= 40, $"expected the golden fixtures, found {files.Count} files");
        foreach (var path in files)
        {
            string relative = Path.GetRelativePath(Fixtures, path).Replace('\\', '/');
            var expected = Manifest.Value[relative];
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
            Assert.Equal("pt", file.Metadata["format"]);
            foreach (var entry in file.Entries)
            {
                var want = expected[entry.Name];
                Assert.Equal(want[0].GetString(), entry.DType);
                Assert.Equal(want[1].EnumerateArray().Select(e => e.GetInt64()), entry.Shape);
                using var t = file.Read(entry.Name);
                Assert.Equal(entry.Shape, t.shape);
                Assert.Equal(entry.ScalarType, t.dtype);
            }
        }
    }

    [Fact]
    public void GoldenModelsMatchTheirConfig()
    {
        foreach (var path in GoldenSafetensors().Where(p => Path.GetFileName(p) == "model.safetensors"))
        {
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(path)!, "config.json")));
            var c = config.RootElement;
            long vocab = c.GetProperty("vocab_size").GetInt64();
            long hidden = c.GetProperty("hidden_size").GetInt64();
            long embedding = c.TryGetProperty("embedding_size", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetInt64() : hidden;
            int layers = c.GetProperty("num_hidden_layers").GetInt32();

            using var file = SafetensorsFile.Open(path);
            var word = file.Entries.Single(x => x.Name.EndsWith("embeddings.word_embeddings.weight", StringComparison.Ordinal));
            Assert.Equal([vocab, embedding], word.Shape);
            var layerIndices = file.Entries
                .Select(x => System.Text.RegularExpressions.Regex.Match(x.Name, @"encoder\.layer\.(\d+)\."))
                .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).Distinct().Order();
            Assert.Equal(Enumerable.Range(0, layers), layerIndices);
            Assert.All(file.Entries, x => Assert.Equal("F32", x.DType));
        }
    }

    [Fact]
    public void ReadsDataBitExactly()
    {
        // Every tensor's bytes against an independent decode of the raw file (JSON offsets into the byte array).
        string path = Golden("deberta-v3-heads", "tokcls", "model.safetensors");
        using var file = SafetensorsFile.Open(path);
        var raw = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(raw, 0);
        using var doc = JsonDocument.Parse(raw.AsMemory(8, (int)headerLength));
        foreach (var entry in file.Entries)
        {
            var offsets = doc.RootElement.GetProperty(entry.Name).GetProperty("data_offsets");
            int begin = 8 + (int)headerLength + offsets[0].GetInt32();
            int end = 8 + (int)headerLength + offsets[1].GetInt32();
            using var t = file.Read(entry.Name);
            Assert.Equal(raw[begin..end], Bytes(t));
        }
    }

    public static TheoryData<string, string, int, ulong?, string?, string> Corruptions() => new()
    {
        // name, header, data bytes, length override, key expected in message, message fragment
        { "short", "", 0, null, null, "fewer than the 8-byte" },
        { "beyond", "{}", 0, 1000UL, null, "runs past the end" },
        { "absurd", "{}", 0, 200_000_000UL, null, "above the 100000000-byte limit" },
        { "notjson", "{\"a\": {\"dtype\": ", 0, null, null, "not valid JSON" },
        { "array", "[1, 2]", 0, null, null, "not an object" },
        { "nodtype", "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, null, "w", "no 'dtype'" },
        { "noshape", "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, null, "w", "no 'shape'" },
        { "nooffsets", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, null, "w", "no 'data_offsets'" },
        { "dtype", "{\"w\": {\"dtype\": \"F8_E4M3\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1, null, "w", "unknown or unsupported dtype 'F8_E4M3'" },
        { "negative", "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1, 4], \"data_offsets\": [0, 16]}}", 16, null, "w", "negative dimension -1" },
        { "size", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}", 24, null, "w", "needs 24 bytes" },
        { "overflow", "{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4611686018427387904], \"data_offsets\": [0, 16]}}", 16, null, "w", "overflows" },
        { "outside", "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}", 16, null, "w", "outside the data section" },
        { "reversed", "{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 0]}}", 16, null, "w", "ends before it begins" },
        { "overlap", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, null, "b", "overlap those of 'a'" },
        { "duplicate", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, null, "w", "appears twice" },
        { "metadata", "{\"__metadata__\": {\"format\": 1}}", 0, null, null, "not a string" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void CorruptFilesAreRefusedNamingTheFile(string name, string header, int dataBytes, ulong? lengthOverride, string? key, string fragment)
    {
        using var temp = new TempFolder();
        string path = temp.File(name + ".safetensors");
        if (name == "short")
        {
            File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        }
        else
        {
            WriteRawSafetensors(path, header, dataBytes, lengthOverride);
        }
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(fragment, e.Message);
        if (key is not null)
        {
            Assert.Contains($"'{key}'", e.Message);
        }
        // The reader still works through CheckpointReader and fails the same way.
        Assert.Throws<CheckpointException>(() => CheckpointReader.Open(path));
    }

    [Fact]
    public void HeaderThatIsNotUtf8OrTooDeepIsRefused()
    {
        using var temp = new TempFolder();
        string path = temp.File("bad.safetensors");
        byte[] header = [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        File.WriteAllBytes(path, [8, 0, 0, 0, 0, 0, 0, 0, .. header]);
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);

        WriteRawSafetensors(path, "{\"__metadata__\": " + new string('[', 100) + new string(']', 100) + "}", 0);
        e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingFileAndMissingKeyAreCheckpointExceptions()
    {
        using var temp = new TempFolder();
        string missing = temp.File("absent.safetensors");
        Assert.Contains(missing, Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(missing)).Message);

        using var file = SafetensorsFile.Open(Golden("deberta-v3", "model.safetensors"));
        var e = Assert.Throws<CheckpointException>(() => file.Read("no.such.key"));
        Assert.Contains("no.such.key", e.Message);
        Assert.Contains(file.Path, e.Message);
    }

    [Fact]
    public void ZeroSizedAndScalarTensorsAndMetadataAreRead()
    {
        using var temp = new TempFolder();
        string path = temp.File("small.safetensors");
        WriteRawSafetensors(path,
            "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"x\"}, \"e\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [0, 0]}," +
            " \"s\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [0, 8]}}   ", 8);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal("x", file.Metadata["note"]);
        using var e = file.Read("e");
        Assert.Equal([0L, 5L], e.shape);
        using var s = file.Read("s");
        Assert.Empty(s.shape);
        Assert.Equal(0L, s.item<long>());
    }
}
