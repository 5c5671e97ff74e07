using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>Half-precision inference agrees with float32 on the trained fixture (top-1 of every token).</summary>
public class PrecisionParityTests(ITestOutputHelper output)
{
    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "precision-mlm");

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void HalfPrecisionAgreesWithFloat32OnTheFixture(ScalarType dtype)
    {
        var agreement = PrecisionParity.OnFixture(Fixture, dtype);
        output.WriteLine($"{dtype}: {agreement.Agreeing}/{agreement.Compared} = {agreement.Top1:P3}, max |Δ logit| {agreement.MaxAbsDifference:F4}");
        Assert.Equal(64 * 32, agreement.Compared);
        Assert.True(agreement.Top1 >= 0.999, $"{dtype}: top-1 agreement {agreement.Top1:P3}");
        Assert.True(agreement.MaxAbsDifference > 0, "the lower precision changed nothing: was it really used?");
    }

    [Fact]
    public void TheFixtureIsTrained()
    {
        // Agreement is only meaningful on confident predictions: the fixture predicts its masked tokens.
        using var model = DebertaForMaskedLM.FromPretrained(Fixture);
        using var file = SafetensorsFile.Open(Path.Combine(Fixture, "inputs.safetensors"));
        using var ids = file.Read("input_ids");
        using var labels = file.Read("labels");
        using var _ = inference_mode();
        using var result = model.Forward(new DebertaInputs(ids));
        var targets = labels.ne(-100);
        double accuracy = result.Logits!.argmax(-1).masked_select(targets).eq(labels.masked_select(targets)).to(ScalarType.Float32).mean().item<float>();
        Assert.True(accuracy >= 0.95, $"masked-token accuracy {accuracy:P2}");
    }
}
