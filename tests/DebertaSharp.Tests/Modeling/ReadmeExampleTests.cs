using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>The C# example of README.md, run on the tiny checkpoint of samples/ (ids inside its 128-token vocabulary).</summary>
public class ReadmeExampleTests
{
    private static string SampleModel =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "models", "tiny-deberta-v3"));

    [Fact]
    public void ReadmeExampleRuns()
    {
        using var tmp = new TempDir();
        using var model = DebertaForSequenceClassification.FromPretrained(SampleModel);
        Assert.Contains("loaded 42 tensors", model.LoadReport!.ToString());

        var ids = tensor(new long[,] { { 1, 34, 69, 2 } });
        var mask = ones_like(ids);
        using (no_grad())
        using (var output = model.Forward(new DebertaInputs(ids) { AttentionMask = mask }, outputHiddenStates: true))
        {
            Assert.NotEmpty(output.Logits!.softmax(-1).ToString(TorchSharp.TensorStringStyle.Numpy));
            Assert.Equal(3, output.HiddenStates!.Count);
            Assert.Equal([1L, 4, 32], output.LastHiddenState.shape);
        }
        model.SavePretrained(Path.Combine(tmp.Path, "my-model"));
        Assert.True(File.Exists(Path.Combine(tmp.Path, "my-model", "model.safetensors")));
    }
}
