using System.Diagnostics;
using System.Text.Json.Nodes;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// config.json values that built gigabytes (or crashed libtorch) before the config was ever compared with the weights
/// now fail at once with a DebertaConfigurationException naming the key and value.
/// </summary>
public class ConfigBoundsTests
{
    /// <summary>A copy of the tiny 2-label seqcls golden checkpoint with <paramref name="edit"/> applied to its config.</summary>
    private static string Checkpoint(TempDir tmp, Action<JsonObject> edit)
    {
        foreach (var f in Directory.GetFiles(Golden("deberta-v3-heads", "seqcls")))
            File.Copy(f, Path.Combine(tmp.Path, Path.GetFileName(f)));
        string path = Path.Combine(tmp.Path, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
        return tmp.Path;
    }

    [Theory]
    [InlineData("num_hidden_layers", 1_000_000L, "num_hidden_layers 1000000")]
    [InlineData("num_labels", 10_000_000L, "num_labels 10000000")]
    [InlineData("num_labels", 2147483647L, "num_labels 2147483647")]
    [InlineData("vocab_size", 1_000_000_000L, "vocab_size 1000000000")]
    [InlineData("intermediate_size", 1_000_000_000L, "intermediate_size 1000000000")]
    [InlineData("type_vocab_size", 1_000_000_000L, "type_vocab_size 1000000000")]
    [InlineData("hidden_size", 65_536L, "hidden_size 65536")]
    [InlineData("position_buckets", 2147483647L, "2147483647 is above the limit")]
    [InlineData("max_position_embeddings", 2147483647L, "max_position_embeddings 2147483647")]
    // Within the limits but not what the weights hold: found from the checkpoint's headers before building.
    [InlineData("num_labels", 5L, "num_labels 5")]
    [InlineData("vocab_size", 5000L, "vocab_size 5000")]
    [InlineData("intermediate_size", 4096L, "intermediate_size 4096")]
    [InlineData("position_buckets", 256L, "position_buckets 256")]
    public void OutOfRangeOrMismatchedValuesFailFastNamingKeyAndValue(string key, long value, string named)
    {
        using var tmp = new TempDir();
        string folder = Checkpoint(tmp, c =>
        {
            c[key] = value;
            if (key == "position_buckets") c["max_relative_positions"] = Math.Max(value, 1024);
            if (key == "num_labels") { c.Remove("id2label"); c.Remove("label2id"); }
        });
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DebertaConfigurationException>(() => AutoModel.FromPretrained(folder));
        Assert.Contains(named, e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void DuplicateLabelNamesKeepTheLastIdAsHfDoes()
    {
        var config = DebertaConfig.Parse("""{"model_type": "deberta-v2", "vocab_size": 10, "hidden_size": 8, "num_attention_heads": 2, "id2label": {"0": "A", "1": "B", "2": "A"}}""", "dup.json");
        Assert.Equal(3, config.NumLabels);
        Assert.Equal(2, config.Label2Id["A"]);
        Assert.Equal("A", config.Id2Label[0]);
    }

    [Fact]
    public void DuplicateKeysInConfigJsonAreNamed()
    {
        var e = Assert.Throws<DebertaConfigurationException>(() => DebertaConfig.Parse("""{"model_type": "deberta-v2", "num_labels": 2, "num_labels": 3}""", "dup.json"));
        Assert.Contains("dup.json", e.Message);
        Assert.Contains("'num_labels' appears twice", e.Message);
    }

    /// <summary>Issue 14: one name per input kind — a checkpoint folder (or repo id) and a JSON file.</summary>
    [Fact]
    public void FromPretrainedTakesAFolderAndFromJsonFileAFile()
    {
        string folder = Golden("deberta-v3-heads", "seqcls"), file = Path.Combine(folder, "config.json");
        Assert.Equal(DebertaConfig.FromJsonFile(file).ToJson(), DebertaConfig.FromPretrained(folder).ToJson());
        var e = Assert.Throws<DebertaConfigurationException>(() => DebertaConfig.FromJsonFile(folder));
        Assert.Contains(folder, e.Message);
        Assert.Contains("FromPretrained", e.Message);
        using var tmp = new TempDir();
        e = Assert.Throws<DebertaConfigurationException>(() => DebertaConfig.FromPretrained(tmp.Path));
        Assert.Contains(Path.Combine(tmp.Path, "config.json"), e.Message);
    }
}
