using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using DebertaSharp.Tests.Modeling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Checkpoints;

/// <summary>Loading straight into the parameters: chunked dtype conversion and conversion before loading.</summary>
public class LowMemoryLoadTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16, 6L)]        // many chunks, one not full
    [InlineData(ScalarType.Float16, 1L << 20)]   // one chunk
    [InlineData(ScalarType.Float64, 12L)]
    public void ConversionInChunksEqualsAWholeConversion(ScalarType target, long chunkBytes)
    {
        using var tmp = new TempDir();
        string path = Path.Combine(tmp.Path, "t.safetensors");
        manual_seed(2);
        var value = randn(7, 5);
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["w"] = value });
        using var file = SafetensorsFile.Open(path);
        using var destination = empty([7, 5], dtype: target);
        Assert.True(file.TryConvertInto("w", destination, chunkBytes));
        Assert.True(destination.eq(value.to(target)).all().item<bool>());
        // Not contiguous: refused, nothing written.
        using var transposed = zeros([5, 7], dtype: target).t();
        Assert.False(file.TryConvertInto("w", transposed, chunkBytes));
    }

    [Fact]
    public void FromPretrainedIntoAnotherDTypeEqualsConvertingAfterwards()
    {
        var golden = new GoldenCase("deberta-v3");
        using var fp32 = AutoModel.FromPretrained(golden.Folder);
        using var bf16 = AutoModel.FromPretrained(golden.Folder, dtype: ScalarType.BFloat16);
        var expected = fp32.state_dict();
        foreach (var (key, value) in bf16.state_dict())
        {
            Assert.Equal(ScalarType.BFloat16, value.dtype);
            Assert.True(value.eq(expected[key].to(ScalarType.BFloat16)).all().item<bool>(), key);
        }
    }
}
