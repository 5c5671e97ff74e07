using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using DebertaSharp.Checkpoints;
using DebertaSharp.IO;
using TorchSharp;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Checkpoints;

public class SafetensorsWriterTests
{
    private static torch.Tensor Sample(torch.ScalarType dtype, long[] shape)
    {
        var g = new torch.Generator(42);
        (long low, long high)? range = dtype switch
        {
            torch.ScalarType.Byte => (0, 256),
            torch.ScalarType.Int8 => (-128, 128),
            torch.ScalarType.Int16 => (-30000, 30000),
            torch.ScalarType.Int32 or torch.ScalarType.Int64 => (-2_000_000_000, 2_000_000_000),
            _ => null,
        };
        if (dtype == torch.ScalarType.Bool)
        {
            using var u = torch.rand(shape, generator: g);
            return u.gt(0.5);
        }
        if (range is { } r)
        {
            using var i = torch.randint(r.low, r.high, shape, torch.ScalarType.Int64, generator: g);
            return i.to_type(dtype);
        }
        using var f = torch.randn(shape, generator: g);
        using var scaled = f.mul(1000);
        return scaled.to_type(dtype);
    }

    public static TheoryData<string> DTypes() => new(TensorDTypes.Names);

    [Theory]
    [MemberData(nameof(DTypes))]
    public void RoundTripIsBitIdenticalForEveryDType(string dtypeName)
    {
        var dtype = TensorDTypes.ToScalarType(dtypeName);
        using var temp = new TempFolder();
        string path = temp.File("out.safetensors");
        using var matrix = Sample(dtype, [3, 5]);
        using var scalar = Sample(dtype, []);
        using var empty = Sample(dtype, [0, 2]);
        SafetensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["m"] = matrix, ["s"] = scalar, ["e"] = empty });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["e", "m", "s"], file.Entries.Select(e => e.Name));
        foreach (var (name, original) in new[] { ("m", matrix), ("s", scalar), ("e", empty) })
        {
            var entry = file.GetEntry(name);
            Assert.Equal(dtypeName, entry.DType);
            Assert.Equal(original.shape, entry.Shape);
            using var back = file.Read(name);
            Assert.Equal(dtype, back.dtype);
            Assert.Equal(Bytes(original), Bytes(back));
        }
    }

    [Fact]
    public void HeaderIsHuggingFaceShaped()
    {
        using var temp = new TempFolder();
        string path = temp.File("out.safetensors");
        using var a = torch.ones(3);
        using var b = torch.ones(2, 2, torch.int64);
        using var c = torch.ones(1, torch.ScalarType.Bool);
        SafetensorsWriter.Save(path, [new("zeta", a), new("alpha", b), new("mid", c)],
            new Dictionary<string, string> { ["note"] = "hello" });

        var raw = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0, n % 8);
        string header = Encoding.UTF8.GetString(raw, 8, (int)n);
        Assert.Matches(@"^\{.*\} *$", header); // padded with spaces only
        using var doc = JsonDocument.Parse(header);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["__metadata__", "alpha", "mid", "zeta"], names);
        Assert.Equal("pt", doc.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        Assert.Equal("hello", doc.RootElement.GetProperty("__metadata__").GetProperty("note").GetString());
        // contiguous in name order: alpha [0,32), mid [32,33), zeta [33,45); file ends with the data
        Assert.Equal([0, 32], doc.RootElement.GetProperty("alpha").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal([32, 33], doc.RootElement.GetProperty("mid").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal([33, 45], doc.RootElement.GetProperty("zeta").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()));
        Assert.Equal(8 + n + 45, raw.Length);
    }

    [Fact]
    public void GoldenModelSurvivesReadWriteRead()
    {
        using var temp = new TempFolder();
        using var source = CheckpointReader.Open(Golden("deberta-v3-heads", "tokcls-bin"));
        var tensors = source.Keys.Select(k => new KeyValuePair<string, torch.Tensor>(k, source.Read(k))).ToList();
        try
        {
            SafetensorsWriter.Save(temp.File("model.safetensors"), tensors);
        }
        finally
        {
            tensors.ForEach(t => t.Value.Dispose());
        }
        // Same bytes as the reference writer's file for the same weights.
        Assert.Equal(File.ReadAllBytes(Golden("deberta-v3-heads", "tokcls", "model.safetensors")).Length,
            new FileInfo(temp.File("model.safetensors")).Length);
        using var ours = SafetensorsFile.Open(temp.File("model.safetensors"));
        using var reference = SafetensorsFile.Open(Golden("deberta-v3-heads", "tokcls", "model.safetensors"));
        Assert.Equal(reference.Entries.Select(e => e.Name), ours.Entries.Select(e => e.Name));
        foreach (var e in reference.Entries)
        {
            using var x = reference.Read(e.Name);
            using var y = ours.Read(e.Name);
            Assert.Equal(Bytes(x), Bytes(y));
        }
    }

    [Fact]
    public void ViewsAndAliasesAreWrittenAsSeparateCopies()
    {
        using var temp = new TempFolder();
        string path = temp.File("out.safetensors");
        using var baseTensor = torch.arange(16, torch.float32).reshape(4, 4);
        using var transposed = baseTensor.t();
        using var row = baseTensor[1];
        using var alias = baseTensor.alias();
        SafetensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["base"] = baseTensor, ["t"] = transposed, ["row"] = row, ["alias"] = alias });
        using var file = SafetensorsFile.Open(path);
        using (var t = file.Read("t")) Assert.True(Identical(t, transposed));
        using (var r = file.Read("row")) Assert.Equal(new float[] { 4, 5, 6, 7 }, r.data<float>().ToArray());
        using (var a = file.Read("alias")) Assert.True(Identical(a, baseTensor));
        Assert.Equal(16 * 4 * 3 + 4 * 4, file.Entries.Sum(e => e.ByteLength));
    }

    [Fact]
    public void InvalidInputsAreRefused()
    {
        using var temp = new TempFolder();
        string path = temp.File("out.safetensors");
        using var a = torch.ones(2);
        var e = Assert.Throws<CheckpointException>(() => SafetensorsWriter.Save(path, [new("w", a), new("w", a)]));
        Assert.Contains("'w'", e.Message);
        Assert.Throws<CheckpointException>(() => SafetensorsWriter.Save(path, [new("__metadata__", a)]));
        using var complex = torch.ones(2, torch.complex64);
        e = Assert.Throws<CheckpointException>(() => SafetensorsWriter.Save(path, [new("c", complex)]));
        Assert.Contains("'c'", e.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    private static IEnumerable<KeyValuePair<string, torch.Tensor>> FailingMidway(torch.Tensor first)
    {
        yield return new("first", first);
        throw new InvalidOperationException("simulated crash while producing tensors");
    }

    [Fact]
    public void CrashDuringWriteLeavesThePreviousFileAndNoTemporaryFile()
    {
        using var temp = new TempFolder();
        string path = temp.File("model.safetensors");
        using var old = torch.full([3], 7f);
        SafetensorsWriter.Save(path, [new("old", old)]);
        var before = File.ReadAllBytes(path);

        using var fresh = torch.zeros(1000);
        var e = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Save(path, FailingMidway(fresh)));
        Assert.Contains("simulated crash", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(temp.Path));

        using var complex = torch.ones(2, torch.complex64);
        Assert.Throws<CheckpointException>(() => SafetensorsWriter.Save(path, [new("fresh", fresh), new("z", complex)]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public void AtomicWriteAllTextReplacesTheFile()
    {
        using var temp = new TempFolder();
        string path = temp.File("config.json");
        AtomicFile.WriteAllText(path, "{\"a\": 1}");
        AtomicFile.WriteAllText(path, "{\"b\": \"é\"}");
        Assert.Equal("{\"b\": \"é\"}", File.ReadAllText(path));
        Assert.Equal(0xC3, File.ReadAllBytes(path)[7]); // UTF-8, no byte-order mark
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(temp.Path));
        Assert.Throws<CheckpointException>(() => AtomicFile.WriteAllText(temp.File("missing/config.json"), "{}"));
    }

    [Fact]
    public void WritersOutsideCheckpointsFailWithTheirOwnExceptionNamingTheFile()
    {
        using var temp = new TempFolder();
        // A folder where the file should go: the rename over it fails.
        Directory.CreateDirectory(temp.File("config.json"));
        var config = DebertaSharp.Tests.Training.TinyModels.V3();
        var e = Assert.Throws<DebertaConfigurationException>(() => config.Save(temp.Path));
        Assert.Contains(temp.File("config.json"), e.Message);

        var cache = new DebertaSharp.Hub.HubCache(temp.File("hub"), "org/tiny");
        Directory.CreateDirectory(Path.Combine(cache.RepoFolder, "refs", "main"));
        var hub = Assert.Throws<DebertaSharp.Hub.HubDownloadException>(() => cache.SaveRef("main", new string('a', 40)));
        Assert.Contains(Path.Combine(cache.RepoFolder, "refs", "main"), hub.Message);
        Assert.Equal("org/tiny", hub.RepoId);
    }
}
