using System.Text.Json;
using System.Text.RegularExpressions;
using DebertaSharp.Adapters;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Pipelines;
using DebertaSharp.Tests.Cli;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>README's embedding / reranking snippet and commands, and its recipe + LoRA example, on the sample checkpoints.</summary>
[Collection(SerialTorchRng.Name)]
public partial class ReadmeFeatureExampleTests
{
    private static string Root => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    private static string Sample(string name) => Path.Combine(Root, "samples", "models", name);

    [Fact]
    public void EmbeddingAndRerankSnippetRuns()
    {
        using var embedder = SentenceEmbeddingPipeline.FromPretrained(Sample("tiny-sentiment"),
            new SentenceEmbeddingOptions { Pooling = PoolingMode.Mean, Normalize = true });
        float[][] vectors = embedder.Embed(["Free of charge.", "No warranty of any kind."]);
        Assert.Equal(2, vectors.Length);
        Assert.All(vectors, v => Assert.Equal(embedder.Dimension, v.Length));

        using var reranker = RerankPipeline.FromPretrained(Sample("tiny-nli"));
        var ranked = reranker.Rerank("Who may copy it?", ["Anyone may copy it.", "The weather was cold."], new() { TopK = 2 });
        Assert.Equal([0, 1], ranked.Select(d => d.Index).Order());
        Assert.True(ranked[0].Score >= ranked[1].Score);
    }

    [Fact]
    public void FreezeForInferenceSnippetRuns()
    {
        Assert.Contains("model.FreezeForInference();", File.ReadAllText(Path.Combine(Root, "README.md")));
        using var model = DebertaSharp.Modeling.DebertaModel.FromPretrained(Sample("tiny-sentiment"));
        using var ids = TorchSharp.torch.tensor(new long[] { 1, 17, 29, 2 }).unsqueeze(0);
        using var mask = TorchSharp.torch.ones_like(ids);
        model.FreezeForInference();
        Assert.True(model.IsFrozenForInference);
        using (TorchSharp.torch.inference_mode())
        {
            using var output = model.Forward(new DebertaSharp.Modeling.DebertaInputs(ids) { AttentionMask = mask });
            Assert.Equal([1L, 4L, model.Config.HiddenSize], output.LastHiddenState.shape);
        }
        model.Unfreeze();
        Assert.False(model.IsFrozenForInference);
    }

    [GeneratedRegex("^dotnet run --project src/DebertaSharp.Cli -- ((?:embed|rerank) .*)$", RegexOptions.Multiline)]
    private static partial Regex CliLine();

    [Fact]
    public void EmbedAndRerankCommandsRunAsWritten()
    {
        var lines = CliLine().Matches(File.ReadAllText(Path.Combine(Root, "README.md"))).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2, lines.Count);
        using var dir = new TempDir();
        foreach (string line in lines)
        {
            // Split like a shell: double-quoted words stay whole; paths are relative to the repository root.
            string[] args = [.. Regex.Matches(line, "\"([^\"]*)\"|(\\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value)
                .Select(a => a.StartsWith("samples/", StringComparison.Ordinal) ? Path.Combine(Root, a) : a.EndsWith(".safetensors", StringComparison.Ordinal) ? Path.Combine(dir.Path, a) : a)];
            var (code, output, error) = PipelineCommandTests.Run(args);
            Assert.True(code == 0, error);
            if (args[0] == "embed")
            {
                using var file = SafetensorsFile.Open(Path.Combine(dir.Path, "embeddings.safetensors"));
                Assert.Equal(2, file.GetEntry("embeddings").Shape[0]);
            }
            else
            {
                Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).Count());
            }
        }
    }

    [Fact]
    public void RecipeAndLoraExampleRuns()
    {
        using var tmp = new TempDir();
        string modelDir = Path.Combine(Root, "samples", "QuickStart", "tiny-deberta");
        var tokenizer = AutoTokenizer.FromPretrained(modelDir);
        string tagsFile = Path.Combine(tmp.Path, "tags.jsonl");
        File.WriteAllText(tagsFile, "{\"text\": \"Free of charge.\", \"label\": [\"free\"]}\n{\"text\": \"You may copy it for free.\", \"label\": [\"free\", \"copy\"]}\n" +
            "{\"text\": \"No warranty.\", \"label\": []}\n{\"text\": \"Copies are allowed.\", \"label\": [\"copy\"]}\n");
        var tags = TextClassificationDataset.Load(tagsFile, tokenizer, new TextClassificationDatasetOptions { MultiLabel = true });
        TrainingSeed.Set(1);
        using var tagger = FineTuningModel.Create(DebertaConfig.FromPretrained(modelDir), tags);        // README: FromPretrained(checkpoint, tags)
        Lora.Apply(tagger, new LoraOptions { Rank = 8, Alpha = 16, BaseModelNameOrPath = "microsoft/deberta-v3-base" });
        var recipe = new Trainer(tagger, tags, null, new TrainerOptions
        {
            OutputDirectory = Path.Combine(tmp.Path, "out", "tags"),
            Optimizer = new AdamWOptions { LearningRate = 1e-4 },
            LayerwiseLrDecay = 0.8,
            HeadLearningRate = 1e-3,
            WarmupRatio = 0.1,
            MaxGradNorm = 1.0,
            MaxSteps = 2,
            BatchSize = 2,
        });
        var result = recipe.Train();
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, Lora.ConfigFileName)));
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, "model.safetensors")));
        Assert.Equal("multi_label_classification", DebertaConfig.FromPretrained(result.OutputDirectory).ProblemType);
    }
}
