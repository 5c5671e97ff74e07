using DebertaSharp.Cli.Commands;
using DebertaSharp.Checkpoints;
using DebertaSharp.Tests.GoldenData;
using DebertaSharp.Tests.Modeling;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Cli;

/// <summary>`deberta forward --head emd` against emd-v3 (the original microsoft/DeBERTa code), and `deberta info` on it.</summary>
public class ForwardEmdCommandTests(ITestOutputHelper log)
{
    private static readonly GoldenCase Emd = new("emd-v3");

    [Fact]
    public void EmdHeadWritesEveryExpectedTensor()
    {
        using var tmp = new TempDir();
        string outPath = Path.Combine(tmp.Path, "out.safetensors");
        Assert.Equal(0, ForwardCommand.Run(Emd.Folder, Path.Combine(Emd.Folder, "inputs.safetensors"), outPath, "emd"));
        var actual = GoldenCase.ReadAll(outPath);
        foreach (var (key, reference) in Emd.Expected())
        {
            Assert.True(actual.ContainsKey(key), $"CLI output lacks {key}");
            Assert.Equal(reference.dtype, actual[key].dtype);
            if (reference.dtype == ScalarType.Int64)
            {
                Assert.True(TensorAssert.Same(actual[key], reference), $"{key} differs");
                continue;
            }
            var (diff, limit) = Parity.Compare(actual[key], reference);
            log.WriteLine($"{key}: max|Δ| {diff:E2} (limit {limit:E2})");
            Assert.True(diff <= limit, $"{key}: max|Δ| {diff:E3} > {limit:E3}");
        }
    }

    [Fact]
    public void LabelsHfMustAgreeWithLabels()
    {
        using var tmp = new TempDir();
        var inputs = Emd.Inputs();
        inputs["labels_hf"] = inputs["labels_hf"].clone();
        inputs["labels_hf"][0, 2] = -100;
        string inPath = Path.Combine(tmp.Path, "in.safetensors");
        SafetensorsWriter.Save(inPath, inputs);
        var ex = Assert.Throws<DebertaInputException>(() => ForwardCommand.Run(Emd.Folder, inPath, Path.Combine(tmp.Path, "out.safetensors"), "emd"));
        Assert.Contains("labels_hf", ex.Message);
    }

    [Fact]
    public void OtherHeadsStillRejectLabelsHf()
    {
        using var tmp = new TempDir();
        var ex = Assert.Throws<DebertaInputException>(() =>
            ForwardCommand.Run(Emd.Folder, Path.Combine(Emd.Folder, "inputs.safetensors"), Path.Combine(tmp.Path, "out.safetensors"), "masked-lm"));
        Assert.Contains("labels_hf", ex.Message);
    }

    [Fact]
    public void EmdHeadOnACheckpointWithoutPositionTableIsAConfigurationError()
    {
        using var tmp = new TempDir();
        var golden = new GoldenCase("deberta-v3");
        var inputs = golden.Inputs();
        inputs["labels"] = inputs["input_ids"].clone();
        string inPath = Path.Combine(tmp.Path, "in.safetensors");
        SafetensorsWriter.Save(inPath, inputs.Where(kv => kv.Key is "input_ids" or "attention_mask" or "labels"));
        var ex = Assert.Throws<DebertaConfigurationException>(() => ForwardCommand.Run(golden.Folder, inPath, Path.Combine(tmp.Path, "out.safetensors"), "emd"));
        Assert.Contains("position_embeddings", ex.Message);
    }

    [Fact]
    public void InfoShowsWhetherEmdIsOn()
    {
        var saved = Console.Out;
        var text = new StringWriter();
        Console.SetOut(text);
        try
        {
            Assert.Equal(0, InfoCommand.Run(Emd.Folder, asJson: false));
            Assert.Equal(0, InfoCommand.Run(Emd.Folder, asJson: true));
            Assert.Equal(0, InfoCommand.Run(new GoldenCase("deberta-v3").Folder, asJson: false));
        }
        finally
        {
            Console.SetOut(saved);
        }
        string output = text.ToString();
        Assert.Contains("enhanced mask decoder: on", output);
        Assert.Contains("\"enhanced_mask_decoder\": true", output);
        Assert.Contains("enhanced mask decoder: off", output);
    }
}
