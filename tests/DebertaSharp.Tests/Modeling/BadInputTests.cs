using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>Bad files, configs and inputs give DebertaSharp exceptions that name what is wrong.</summary>
public class BadInputTests
{
    private static string CopyCase(string name, TempDir tmp)
    {
        var source = new GoldenCase(name).Folder;
        foreach (var file in Directory.EnumerateFiles(source))
            File.Copy(file, Path.Combine(tmp.Path, Path.GetFileName(file)));
        return tmp.Path;
    }

    [Fact]
    public void MissingConfigNamesThePath()
    {
        using var tmp = new TempDir();
        var ex = Assert.Throws<DebertaConfigurationException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains(Path.Combine(tmp.Path, "config.json"), ex.Message);
    }

    [Fact]
    public void MissingWeightsNamesTheFolder()
    {
        using var tmp = new TempDir();
        CopyCase("deberta-v3-heads/seqcls", tmp);
        File.Delete(Path.Combine(tmp.Path, "model.safetensors"));
        var ex = Assert.Throws<CheckpointException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains(tmp.Path, ex.Message);
    }

    [Fact]
    public void TruncatedSafetensorsNamesTheFile()
    {
        using var tmp = new TempDir();
        CopyCase("deberta-v3-heads/seqcls", tmp);
        string weights = Path.Combine(tmp.Path, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var ex = Assert.Throws<CheckpointException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains("model.safetensors", ex.Message);
    }

    [Theory]
    [InlineData("\"model_type\": \"deberta-v2\"", "\"model_type\": \"bert\"", "bert")]
    [InlineData("\"hidden_size\": 32", "\"hidden_size\": 33", "hidden_size")]
    [InlineData("\"pos_att_type\": [", "\"pos_att_type\": [\"p2p\", ", "p2p")]
    [InlineData("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swoosh\"", "swoosh")]
    public void InconsistentConfigIsAConfigurationError(string from, string to, string named)
    {
        using var tmp = new TempDir();
        CopyCase("deberta-v3-heads/seqcls", tmp);
        string path = Path.Combine(tmp.Path, "config.json");
        string text = File.ReadAllText(path);
        Assert.Contains(from, text);
        File.WriteAllText(path, text.Replace(from, to));
        var ex = Assert.Throws<DebertaConfigurationException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains(named, ex.Message);
    }

    [Fact]
    public void ShapeMismatchNamesKeyAndBothShapes()
    {
        using var tmp = new TempDir();
        CopyCase("deberta-v3-heads/seqcls", tmp);
        string path = Path.Combine(tmp.Path, "config.json");
        // intermediate_size 128 -> 64: the FFN weights no longer fit; found from the checkpoint headers before the model is built.
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"intermediate_size\": 128", "\"intermediate_size\": 64"));
        var ex = Assert.Throws<DebertaConfigurationException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains("deberta.encoder.layer.0.intermediate.dense.weight", ex.Message);
        Assert.Contains("[128, 32]", ex.Message);
        Assert.Contains("[64, 32]", ex.Message);
    }

    [Fact]
    public void MissingKeyIsReportedByNameAndInitialised()
    {
        using var tmp = new TempDir();
        CopyCase("deberta-v3-heads/seqcls", tmp);
        string weights = Path.Combine(tmp.Path, "model.safetensors");
        Dictionary<string, Tensor> all;
        using (var file = SafetensorsFile.Open(weights))
            all = file.Entries.ToDictionary(e => e.Name, e => file.Read(e.Name));
        all.Remove("pooler.dense.bias");
        all["some.extra.key"] = zeros(3);
        SafetensorsWriter.Save(weights, all);
        using var model = AutoModel.FromPretrained(tmp.Path);
        Assert.Equal(["pooler.dense.bias"], model.LoadReport!.Missing);
        Assert.Equal(["some.extra.key"], model.LoadReport.Unexpected);
        Assert.Equal(0f, model.state_dict()["pooler.dense.bias"].abs().sum().item<float>());
    }

    private static DebertaPreTrainedModel Seqcls() => AutoModel.FromPretrained(new GoldenCase("deberta-v3-heads/seqcls").Folder);

    [Fact]
    public void IdOutsideVocabularyNamesValueAndPosition()
    {
        using var model = Seqcls();
        var ids = tensor(new long[] { 1, 5, 128, 2 }).unsqueeze(0);
        var ex = Assert.Throws<DebertaInputException>(() => model.Forward(new DebertaInputs(ids)));
        Assert.Contains("128", ex.Message);
        Assert.Contains("[0, 2]", ex.Message);
        Assert.Throws<DebertaInputException>(() => model.Forward(new DebertaInputs(tensor(new long[] { 1, -3, 2 }).unsqueeze(0))));
    }

    [Fact]
    public void MaskShapeMismatchNamesBothShapes()
    {
        using var model = Seqcls();
        var ex = Assert.Throws<DebertaInputException>(() =>
            model.Forward(new DebertaInputs(ones(2, 5, dtype: ScalarType.Int64)) { AttentionMask = ones(2, 4, dtype: ScalarType.Int64) }));
        Assert.Contains("[2, 4]", ex.Message);
        Assert.Contains("[2, 5]", ex.Message);
    }

    [Fact]
    public void EmptyBatchIsRejected()
    {
        using var model = Seqcls();
        Assert.Throws<DebertaInputException>(() => model.Forward(new DebertaInputs(zeros(0, 5, dtype: ScalarType.Int64))));
        Assert.Throws<DebertaInputException>(() => model.Forward(new DebertaInputs(zeros(2, 0, dtype: ScalarType.Int64))));
    }

    [Fact]
    public void SequenceLongerThanPositionTableIsRejected()
    {
        // deberta-v1-pbi adds absolute positions: max_position_embeddings = 64.
        using var model = AutoModel.FromPretrained(new GoldenCase("deberta-v1-pbi").Folder);
        var ex = Assert.Throws<DebertaInputException>(() => model.Forward(new DebertaInputs(ones(1, 65, dtype: ScalarType.Int64))));
        Assert.Contains("65", ex.Message);
        Assert.Contains("64", ex.Message);
        using var ok = model.Forward(new DebertaInputs(ones(1, 64, dtype: ScalarType.Int64)));
    }

    [Fact]
    public void RelativeOnlyModelsAcceptLongSequences()
    {
        // deberta-v3 has no absolute positions: 600 tokens > max_position_embeddings 512 still run.
        using var model = AutoModel.FromPretrained(new GoldenCase("deberta-v3").Folder);
        using var output = model.Forward(new DebertaInputs(ones(1, 600, dtype: ScalarType.Int64)));
        Assert.Equal([1L, 600, 1001], output.Logits!.shape);
    }
}
