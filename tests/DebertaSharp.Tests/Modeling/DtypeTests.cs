using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>Loading into another dtype, and checkpoints stored in half precision.</summary>
public class DtypeTests
{
    [Fact]
    public void LoadsIntoBFloat16AndAgreesWithFloat32()
    {
        var golden = new GoldenCase("deberta-v3");
        using var fp32 = AutoModel.FromPretrained(golden.Folder);
        using var bf16 = AutoModel.FromPretrained(golden.Folder, dtype: ScalarType.BFloat16);
        Assert.All(bf16.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        var inputs = GoldenCase.ToInputs(golden.Inputs()) with { Labels = null };
        using var _ = no_grad();
        using var a = fp32.Forward(inputs);
        using var b = bf16.Forward(inputs);
        Assert.Equal(ScalarType.BFloat16, b.Logits!.dtype);
        // Top-1 agreement at real tokens; bf16 keeps ~3 significant digits.
        var mask = inputs.AttentionMask!.to(ScalarType.Bool);
        var agree = a.Logits!.argmax(-1).eq(b.Logits.argmax(-1)).masked_select(mask).to(ScalarType.Float32).mean().item<float>();
        Assert.True(agree >= 0.95, $"top-1 agreement {agree}");
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void HalfPrecisionCheckpointLoadsAsFloat32(ScalarType stored)
    {
        var golden = new GoldenCase("deberta-v3-heads/seqcls");
        using var tmp = new TempDir();
        using (var model = AutoModel.FromPretrained(golden.Folder, dtype: stored))
            model.SavePretrained(tmp.Path);
        using (var file = SafetensorsFile.Open(Path.Combine(tmp.Path, "model.safetensors")))
            Assert.All(file.Entries, e => Assert.Equal(stored == ScalarType.Float16 ? "F16" : "BF16", e.DType));
        Assert.Contains(stored == ScalarType.Float16 ? "\"float16\"" : "\"bfloat16\"", File.ReadAllText(Path.Combine(tmp.Path, "config.json")));

        using var reloaded = AutoModel.FromPretrained(tmp.Path, dtype: ScalarType.Float32);
        using var original = AutoModel.FromPretrained(golden.Folder);
        var expected = original.state_dict();
        foreach (var (key, value) in reloaded.state_dict())
        {
            Assert.Equal(ScalarType.Float32, value.dtype);
            // The reloaded value is exactly the original rounded to the stored precision.
            Assert.True(value.eq(expected[key].to(stored).to(ScalarType.Float32)).all().item<bool>(), key);
        }
    }
}
