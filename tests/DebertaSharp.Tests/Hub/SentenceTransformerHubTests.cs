using Xunit;
using DebertaSharp.Hub;
using DebertaSharp.Pipelines;
using DebertaSharp.Tests.Pipelines;

namespace DebertaSharp.Tests.Hub;

/// <summary>A sentence-transformers repository fetched by repo id keeps its pooling and normalisation.</summary>
public sealed class SentenceTransformerHubTests
{
    [Fact]
    public void SentenceEmbeddingPipelineFetchesModulesAndPoolingConfigOfARepoId()
    {
        string folder = Path.Combine(Path.GetTempPath(), "debertasharp-st-hub-" + Guid.NewGuid().ToString("N"));
        using var bed = new HubTestBed();
        try
        {
            // CLS pooling + Normalize: a plain checkpoint would give mean pooling, unnormalised, so the two differ.
            SentenceEmbeddingPipelineTests.WriteSentenceTransformer(folder, TaskModels.Sentiment, "pooling_mode_cls_token", maxSeqLength: 16, normalize: true);
            var files = FakeHub.FolderFiles(folder);
            files["1_Pooling/config.json"] = File.ReadAllBytes(Path.Combine(folder, "1_Pooling", "config.json"));
            bed.Hub.Add("org/tiny-st", files);

            using var local = SentenceEmbeddingPipeline.FromPretrained(folder);
            float[] expected = local.Embed("The weather is lovely today.");
            using (HubOptions.Use(bed.Options()))
            {
                using var fetched = SentenceEmbeddingPipeline.FromPretrained("org/tiny-st");
                Assert.Equal(expected, fetched.Embed("The weather is lovely today."));
                Assert.Equal(16, fetched.MaxLength);
            }

            Assert.Equal(1, bed.Hub.Count("GET", "1_Pooling/config.json"));
            Assert.Equal(1, bed.Hub.Count("GET", "modules.json"));
            Assert.Equal(1.0, Math.Sqrt(expected.Sum(v => (double)v * v)), 1e-5);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
