using System.Text.Json;
using DebertaSharp.Checkpoints;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Pipelines;
using DebertaSharp.Tests.Pipelines;
using Xunit;

namespace DebertaSharp.Tests.Cli;

/// <summary><c>deberta embed</c> and <c>deberta rerank</c> in-process, against the pipelines.</summary>
public class EmbedRerankCommandTests
{
    private static (int Code, string Output, string Error) Run(params string[] args) => PipelineCommandTests.Run(args);

    private static JsonElement[] JsonLines(string output) => PipelineCommandTests.JsonLines(output);

    [Fact]
    public void EmbedWritesTheEmbeddingsInInputOrderToSafetensors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "debertasharp-embed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string jsonl = Path.Combine(dir, "texts.jsonl");
            File.WriteAllText(jsonl, "{\"text\": \"Permission is hereby granted.\"}\n\n{\"text\": \"No warranty.\", \"id\": 7}\n");
            string file = Path.Combine(dir, "out.safetensors");
            var (code, output, error) = Run("embed", "--model", TaskModels.Sentiment, "--pooling", "cls", "--normalize", "--jsonl", jsonl, "--output", file, "A free program.");
            Assert.True(code == 0, error);
            Assert.Contains("3 embeddings", output);

            using var embedder = SentenceEmbeddingPipeline.FromPretrained(TaskModels.Sentiment, new SentenceEmbeddingOptions { Pooling = PoolingMode.Cls, Normalize = true });
            float[][] expected = embedder.Embed(["A free program.", "Permission is hereby granted.", "No warranty."]);
            using var saved = SafetensorsFile.Open(file);
            using var embeddings = saved.Read("embeddings");
            Assert.Equal([3L, embedder.Dimension], embeddings.shape);
            float[] values = embeddings.data<float>().ToArray();
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(expected[i], values[(i * embedder.Dimension)..((i + 1) * embedder.Dimension)]);
            }

            var (jsonCode, json, _) = Run("embed", "--model", TaskModels.Sentiment, "--json", "No warranty.");
            Assert.Equal(0, jsonCode);
            JsonElement line = Assert.Single(JsonLines(json));
            using var mean = SentenceEmbeddingPipeline.FromPretrained(TaskModels.Sentiment);
            Assert.Equal(mean.Embed("No warranty."), line.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RerankPrintsJsonLinesBestFirst()
    {
        string[] docs = ["The weather was cold.", "Permission is hereby granted to copy.", "Copies may be made."];
        var (code, output, error) = Run(["rerank", "--model", TaskModels.Regression, "--query", "Who may copy it?", "--top-k", "2", "--json", .. docs]);
        Assert.True(code == 0, error);
        JsonElement[] lines = JsonLines(output);
        using var reranker = RerankPipeline.FromPretrained(TaskModels.Regression);
        var expected = reranker.Rerank("Who may copy it?", docs, new RerankOptions { TopK = 2 });
        Assert.Equal(expected.Select(e => e.Index), lines.Select(l => l.GetProperty("index").GetInt32()));
        Assert.Equal(expected.Select(e => e.Score), lines.Select(l => l.GetProperty("score").GetSingle()));
        Assert.Equal(expected.Select(e => e.Text), lines.Select(l => l.GetProperty("text").GetString()));

        var (tableCode, table, _) = Run(["rerank", "--model", TaskModels.Regression, "--query", "Who may copy it?", .. docs]);
        Assert.Equal(0, tableCode);
        Assert.Contains(PipelineCli.Score(expected[0].Score), table);
    }
}
