using DebertaSharp.Checkpoints;
using TorchSharp;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Checkpoints;

public class CheckpointReaderTests
{
    [Fact]
    public void ShardedCheckpointEqualsTheSingleFile()
    {
        using var sharded = CheckpointReader.Open(Golden("deberta-v3-heads", "seqcls-sharded"));
        using var single = CheckpointReader.Open(Golden("deberta-v3-heads", "seqcls"));
        Assert.EndsWith("model.safetensors.index.json", sharded.Location);
        Assert.Equal(3, sharded.Files.Count);
        Assert.Equal(single.Keys.Order(StringComparer.Ordinal), sharded.Keys.Order(StringComparer.Ordinal));
        foreach (var key in single.Keys)
        {
            Assert.Equal(single.GetEntry(key).Shape, sharded.GetEntry(key).Shape);
            Assert.StartsWith("model-0000", Path.GetFileName(sharded.SourceOf(key)));
            using var a = sharded.Read(key);
            using var b = single.Read(key);
            Assert.Equal(Bytes(b), Bytes(a));
        }
        Assert.Equal("model-00003-of-00003.safetensors", Path.GetFileName(sharded.SourceOf("classifier.weight")));
    }

    [Fact]
    public void ShardsAreListedInOrderWhateverKeyComesFirstInTheIndex()
    {
        // The index's first key (alphabetical) lives in the third shard; `deberta info` lists Files.
        using var sharded = CheckpointReader.Open(Golden("deberta-v3-heads", "seqcls-sharded"));
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"],
            sharded.Files.Select(f => Path.GetFileName(f)));
    }

    [Fact]
    public void FolderWithBinOnlyReadsTheBin()
    {
        using var reader = CheckpointReader.Open(Golden("deberta-v3-heads", "tokcls-bin"));
        Assert.EndsWith("pytorch_model.bin", reader.Location);
        using var st = CheckpointReader.Open(Golden("deberta-v3-heads", "tokcls", "model.safetensors"));
        Assert.Equal(st.Keys.Order(StringComparer.Ordinal), reader.Keys.Order(StringComparer.Ordinal));
        foreach (var key in st.Keys)
        {
            using var a = reader.Read(key);
            using var b = st.Read(key);
            Assert.Equal(Bytes(b), Bytes(a));
        }
    }

    [Fact]
    public void SafetensorsIsPreferredOverBinAndShardedBinIsFound()
    {
        using var temp = new TempFolder();
        File.Copy(Golden("deberta-v3-heads", "tokcls-bin", "pytorch_model.bin"), temp.File("pytorch_model.bin"));
        using (var reader = CheckpointReader.Open(temp.Path))
        {
            Assert.Equal(temp.File("pytorch_model.bin"), reader.Location);
        }
        File.Copy(Golden("deberta-v3-heads", "tokcls", "model.safetensors"), temp.File("model.safetensors"));
        using (var reader = CheckpointReader.Open(temp.Path))
        {
            Assert.Equal(temp.File("model.safetensors"), reader.Location);
        }

        // A sharded .bin index over one shard (the golden .bin), written by hand.
        using var shardedFolder = new TempFolder();
        File.Copy(Golden("deberta-v3-heads", "tokcls-bin", "pytorch_model.bin"), shardedFolder.File("pytorch_model-00001-of-00001.bin"));
        using (var bin = PyTorchBinFile.Open(shardedFolder.File("pytorch_model-00001-of-00001.bin")))
        {
            var map = bin.Entries.ToDictionary(e => e.Name, _ => "pytorch_model-00001-of-00001.bin");
            File.WriteAllText(shardedFolder.File("pytorch_model.bin.index.json"),
                System.Text.Json.JsonSerializer.Serialize(new { metadata = new { total_size = 1 }, weight_map = map }));
        }
        using (var reader = CheckpointReader.Open(shardedFolder.Path))
        {
            Assert.EndsWith("pytorch_model.bin.index.json", reader.Location);
            Assert.Equal(40, reader.Keys.Count);
        }
    }

    [Fact]
    public void NothingToLoadNamesTheFolderAndTheFilesLookedFor()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("config.json"), "{}");
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.Path));
        Assert.Contains(temp.Path, e.Message);
        foreach (var name in CheckpointReader.KnownFileNames)
        {
            Assert.Contains(name, e.Message);
        }
        Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.File("nope")));
    }

    [Fact]
    public void BrokenIndexesAreRefused()
    {
        using var temp = new TempFolder();
        File.Copy(Golden("deberta-v3-heads", "seqcls-sharded", "model-00001-of-00003.safetensors"), temp.File("model-00001-of-00003.safetensors"));
        string index = temp.File("model.safetensors.index.json");

        File.WriteAllText(index, "{\"weight_map\": {\"x\": \"../model.safetensors\"}}");
        Assert.Contains("not a file name", Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.Path)).Message);

        File.WriteAllText(index, "{\"weight_map\": {\"classifier.weight\": \"model-00003-of-00003.safetensors\"}}");
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.Path)).Message);

        File.WriteAllText(index, "{\"weight_map\": {\"classifier.weight\": \"model-00001-of-00003.safetensors\"}}");
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.Path));
        Assert.Contains("'classifier.weight'", e.Message);
        Assert.Contains("does not hold it", e.Message);

        File.WriteAllText(index, "{\"weight_map\": [");
        Assert.Contains(index, Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.Path)).Message);
    }

    [Fact]
    public void HalfAndBFloat16ConvertToFloat32()
    {
        using var temp = new TempFolder();
        string path = temp.File("model.safetensors");
        var values = new float[] { 1.5f, -2.25f, 65504f, 6.103515625e-05f, 0f, -0.099609375f };
        using var f32 = torch.tensor(values);
        using var f16 = f32.to_type(torch.float16);
        using var bf16 = f32.to_type(torch.bfloat16);
        SafetensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["h"] = f16, ["b"] = bf16 });

        using var reader = CheckpointReader.Open(path);
        Assert.Equal("F16", reader.GetEntry("h").DType);
        Assert.Equal("BF16", reader.GetEntry("b").DType);
        using var h = reader.Read("h", torch.float32);
        Assert.Equal(torch.float32, h.dtype);
        Assert.Equal(values, h.data<float>().ToArray());
        using var b = reader.Read("b", torch.float32, torch.CPU);
        // bf16 keeps 8 mantissa bits: round-to-nearest-even of each value, computed here from the float32 bits.
        var expected = values.Select(v =>
        {
            uint bits = BitConverter.SingleToUInt32Bits(v);
            bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000;
            return BitConverter.UInt32BitsToSingle(bits);
        }).ToArray();
        Assert.Equal(expected, b.data<float>().ToArray());

        using var dest = torch.zeros(6, torch.float64);
        reader.CopyInto("h", dest);
        Assert.Equal(values.Select(v => (double)v), dest.data<double>().ToArray());
    }

    [Fact]
    public void CopyIntoRefusesAnyShapeMismatchAndNeverBroadcasts()
    {
        using var temp = new TempFolder();
        string path = temp.File("model.safetensors");
        using var bias = torch.tensor(new float[] { 1, 2, 3, 4 });
        SafetensorsWriter.Save(path, new Dictionary<string, torch.Tensor> { ["layer.bias"] = bias });

        using var reader = CheckpointReader.Open(temp.Path);
        using var dest = torch.zeros(4, 4);
        var e = Assert.Throws<CheckpointException>(() => reader.CopyInto("layer.bias", dest));
        Assert.Contains("'layer.bias'", e.Message);
        Assert.Contains("[4]", e.Message);
        Assert.Contains("[4, 4]", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Equal(0f, dest.abs().sum().item<float>());

        using var scalarDest = torch.zeros(1, 4);
        Assert.Throws<CheckpointException>(() => reader.CopyInto("layer.bias", scalarDest));
        var missing = Assert.Throws<CheckpointException>(() => reader.CopyInto("layer.weight", dest));
        Assert.Contains("'layer.weight'", missing.Message);
    }

    [Fact]
    public void CopyIntoParametersRecordsNoHistoryAndMovesData()
    {
        using var reader = CheckpointReader.Open(Golden("deberta-v3-heads", "tokcls-bin"));
        foreach (var key in reader.Keys)
        {
            var entry = reader.GetEntry(key);
            // Fast path (CPU, contiguous, same dtype) into a parameter that requires grad.
            using var param = new TorchSharp.Modules.Parameter(torch.zeros(entry.Shape));
            reader.CopyInto(key, param);
            Assert.True(param.requires_grad);
            Assert.True(param.is_leaf);
            using var expected = reader.Read(key);
            Assert.Equal(Bytes(expected), Bytes(param));

            // Converting path into a non-contiguous destination.
            using var wide = torch.zeros(entry.Shape.Reverse().ToArray(), torch.float64);
            using var transposed = entry.Shape.Length == 2 ? wide.t() : wide.alias();
            reader.CopyInto(key, transposed);
            using var back = transposed.to_type(torch.float32);
            Assert.True(Identical(back, expected), key);
        }
    }
}
