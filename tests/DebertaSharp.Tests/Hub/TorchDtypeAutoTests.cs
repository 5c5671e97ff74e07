using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Hub;

/// <summary><c>dtype: null</c> stays float32; <see cref="TorchDtype.Auto"/> follows config.json's <c>torch_dtype</c>, as HF's <c>torch_dtype="auto"</c>.</summary>
public class TorchDtypeAutoTests
{
    [Fact]
    public void AutoTakesTheConfigTypeAndNullStaysFloat32()
    {
        string folder = Path.Combine(Path.GetTempPath(), "debertasharp-auto-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var source = DebertaForSequenceClassification.FromPretrained(HubTestBed.SampleFolder, dtype: ScalarType.BFloat16))
                source.SavePretrained(folder);                                  // torch_dtype "bfloat16", BF16 tensors
            using (var auto = DebertaForSequenceClassification.FromPretrained(folder, dtype: TorchDtype.Auto))
                Assert.Equal(ScalarType.BFloat16, auto.DType);
            using (var plain = DebertaForSequenceClassification.FromPretrained(folder))
                Assert.Equal(ScalarType.Float32, plain.DType);
            using (var pipeline = DebertaSharp.Pipelines.ZeroShotClassificationPipeline.FromPretrained(HubTestBed.SampleFolder, dtype: TorchDtype.Auto))
                Assert.Equal(ScalarType.Float32, pipeline.Model.DType);             // the sample says float32

            // No torch_dtype: the checkpoint's first floating tensor decides.
            string config = Path.Combine(folder, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"torch_dtype\": \"bfloat16\",", "", StringComparison.Ordinal));
            Assert.DoesNotContain("torch_dtype", File.ReadAllText(config));
            using (var auto = AutoModel.FromPretrained(folder, dtype: TorchDtype.Auto))
                Assert.Equal(ScalarType.BFloat16, auto.DType);

            File.WriteAllText(config, "{\"torch_dtype\": \"int8\"," + File.ReadAllText(config).TrimStart()[1..]);
            var ex = Assert.Throws<DebertaConfigurationException>(() => DebertaForSequenceClassification.FromPretrained(folder, dtype: TorchDtype.Auto));
            Assert.Contains("torch_dtype 'int8'", ex.Message);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
