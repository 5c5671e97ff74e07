using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static DebertaSharp.Tests.Modeling.TensorAssert;

namespace DebertaSharp.Tests.Modeling;

internal static class TensorAssert
{
    /// <summary>Same shape, dtype and every element bit-equal.</summary>
    public static bool Same(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "debertasharp-" + Guid.NewGuid().ToString("N"));
    public TempDir() => Directory.CreateDirectory(Path);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

/// <summary>load → save → load keeps every tensor bit-identical and the file keys, shapes, dtypes and config fields of the source.</summary>
public class RoundTripTests
{
    [Theory]
    [MemberData(nameof(GoldenCase.ModelCases), MemberType = typeof(GoldenCase))]
    public void SaveThenLoadIsIdentical(string name)
    {
        var golden = new GoldenCase(name);
        using var tmp = new TempDir();
        using var model = AutoModel.FromPretrained(golden.Folder);
        model.SavePretrained(tmp.Path);

        // Same key set, shapes and dtypes as the source checkpoint.
        using (var source = CheckpointReader.Open(golden.Folder))
        using (var saved = SafetensorsFile.Open(System.IO.Path.Combine(tmp.Path, "model.safetensors")))
        {
            Assert.Equal(source.Keys.OrderBy(k => k, StringComparer.Ordinal), saved.Entries.Select(e => e.Name).OrderBy(k => k, StringComparer.Ordinal));
            foreach (var entry in saved.Entries)
            {
                Assert.Equal(source.GetEntry(entry.Name).Shape, entry.Shape);
                Assert.Equal(source.GetEntry(entry.Name).DType, entry.DType);
                using var a = source.Read(entry.Name);
                using var b = saved.Read(entry.Name);
                Assert.True(Same(a, b), $"{entry.Name} changed on save");
            }
            Assert.Equal("pt", saved.Metadata["format"]);
        }

        // Same config fields (config_full.json is not a config.json; compare with config.json).
        var original = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(golden.Folder, "config.json")))!.AsObject();
        var written = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(tmp.Path, "config.json")))!.AsObject();
        foreach (var (key, value) in original)
            Assert.True(JsonNode.DeepEquals(value, written[key]), $"config field {key}: {value?.ToJsonString()} became {written[key]?.ToJsonString()}");

        using var reloaded = AutoModel.FromPretrained(tmp.Path);
        Assert.Empty(reloaded.LoadReport!.Missing);
        Assert.Empty(reloaded.LoadReport!.Unexpected);
        var before = model.state_dict();
        foreach (var (key, value) in reloaded.state_dict())
            Assert.True(Same(value, before[key]), $"{key} differs after reload");
    }

    [Fact]
    public void ConfigRoundTripKeepsUnknownFieldsAndStringPosAttType()
    {
        string json = """{"model_type":"deberta","pos_att_type":"c2p|p2c","hidden_size":32,"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":8,"vocab_size":10,"custom_field":{"a":1},"relative_attention":true}""";
        var config = DebertaConfig.Parse(json);
        Assert.Equal(["c2p", "p2c"], config.PosAttType);
        var back = JsonNode.Parse(config.ToJson())!.AsObject();
        Assert.Equal("c2p|p2c", back["pos_att_type"]!.GetValue<string>());
        Assert.Equal(1, back["custom_field"]!["a"]!.GetValue<int>());
        config.PosAttType = ["c2p"];
        Assert.Equal("c2p", JsonNode.Parse(config.ToJson())!["pos_att_type"]![0]!.GetValue<string>());
    }

    [Fact]
    public void BaseModelLoadsFromHeadCheckpointAndHeadFromBaseCheckpoint()
    {
        var seqcls = new GoldenCase("deberta-v3-heads/seqcls");
        using var baseModel = DebertaModel.FromPretrained(seqcls.Folder);
        Assert.Equal("strip deberta.", baseModel.LoadReport!.PrefixAdaptation);
        Assert.Empty(baseModel.LoadReport.Missing);
        Assert.Contains("classifier.weight", baseModel.LoadReport.Unexpected);

        using var tmp = new TempDir();
        baseModel.SavePretrained(tmp.Path);
        using var head = DebertaForTokenClassification.FromPretrained(tmp.Path);
        Assert.Equal("add deberta.", head.LoadReport!.PrefixAdaptation);
        Assert.Equal(["classifier.weight", "classifier.bias"], head.LoadReport.Missing.OrderByDescending(k => k));
        // HF initialisation of the new head: N(0, 0.02) weights, zero bias.
        var state = head.state_dict();
        Assert.Equal(0f, state["classifier.bias"].abs().sum().item<float>());
        double std = state["classifier.weight"].std().item<float>();
        Assert.InRange(std, 0.005, 0.05);
        // The encoder weights are the base model's.
        Assert.True(Same(state["deberta.encoder.layer.0.attention.self.query_proj.weight"], baseModel.state_dict()["encoder.layer.0.attention.self.query_proj.weight"]));
    }
}
