using System.Text.Json;
using DebertaSharp.Modeling;
using DebertaSharp.Pipelines;
using DebertaSharp.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>
/// Feature extraction and sentence embeddings against the bare encoder's last hidden state, run here one text at a
/// time (no padding) and pooled by hand in double precision.
/// </summary>
public class SentenceEmbeddingPipelineTests
{
    private static readonly string[] Texts = ["A wonderful, free program.", "Permission is hereby granted to any person.", "No warranty."];

    /// <summary>The encoder's last hidden state of one text, unbatched: [L][H].</summary>
    internal static float[][] Hidden(string folder, TokenEncoding encoding)
    {
        using var model = DebertaModel.FromPretrained(folder);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var output = model.Forward(new BatchEncoding([encoding]).ToInputs(model.Device));
        float[] flat = output.LastHiddenState.data<float>().ToArray();
        int h = model.Config.HiddenSize;
        return [.. Enumerable.Range(0, encoding.Length).Select(t => flat.AsSpan(t * h, h).ToArray())];
    }

    private static double[] Mean(float[][] tokens) =>
        [.. Enumerable.Range(0, tokens[0].Length).Select(d => tokens.Average(t => (double)t[d]))];

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        double tolerance = 1e-5 * Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void FeatureExtractionGivesTheLastHiddenStatePerTokenWithoutPadding()
    {
        using var features = FeatureExtractionPipeline.FromPretrained(TaskModels.Sentiment);   // a head checkpoint: its encoder
        Assert.Equal(HeadKind.Base, features.Model.Head);
        var all = features.Extract(Texts);                                                     // batched, padded to the longest
        for (int i = 0; i < Texts.Length; i++)
        {
            TokenEncoding encoding = features.Tokenizer.Encode(Texts[i]);
            float[][] expected = Hidden(TaskModels.Sentiment, encoding);
            Assert.Equal(encoding.Tokens, all[i].Tokens);
            for (int t = 0; t < expected.Length; t++)
            {
                AssertClose([.. expected[t].Select(v => (double)v)], all[i].Vector(t).ToArray());
            }
        }
    }

    [Fact]
    public void MeanPoolingAveragesOnlyTheAttendedTokensOfEachText()
    {
        using var embedder = SentenceEmbeddingPipeline.FromPretrained(TaskModels.Sentiment);   // plain checkpoint: mean, not normalised
        Assert.Equal(PoolingMode.Mean, embedder.Pooling);
        Assert.False(embedder.Normalize);
        float[][] vectors = embedder.Embed(Texts);
        for (int i = 0; i < Texts.Length; i++)
        {
            AssertClose(Mean(Hidden(TaskModels.Sentiment, embedder.Tokenizer.Encode(Texts[i]))), vectors[i]);
        }
    }

    [Fact]
    public void ClsMaxAndSqrtLengthPoolingConcatenateInSentenceTransformersOrder()
    {
        using var model = DebertaModel.FromPretrained(TaskModels.Sentiment);
        using var embedder = new SentenceEmbeddingPipeline(model, AutoTokenizer.FromPretrained(TaskModels.Sentiment),
            PoolingMode.MeanSqrtLength | PoolingMode.Cls | PoolingMode.Max, normalize: true);
        int h = model.Config.HiddenSize;
        Assert.Equal(3 * h, embedder.Dimension);
        float[][] vectors = embedder.Embed(Texts);
        for (int i = 0; i < Texts.Length; i++)
        {
            float[][] tokens = Hidden(TaskModels.Sentiment, embedder.Tokenizer.Encode(Texts[i]));
            double sqrtLength = Math.Sqrt(tokens.Length);
            double[] cls = [.. tokens[0].Select(v => (double)v)];
            double[] max = [.. Enumerable.Range(0, h).Select(d => tokens.Max(t => (double)t[d]))];
            double[] sqrt = [.. Mean(tokens).Select(v => v * tokens.Length / sqrtLength)];
            double[] joined = [.. cls, .. max, .. sqrt];
            double norm = Math.Sqrt(joined.Sum(v => v * v));
            AssertClose([.. joined.Select(v => v / norm)], vectors[i]);
        }
    }

    [Fact]
    public void MaxPoolingIgnoresPaddingEvenWhenEveryValueIsNegative()
    {
        // Two rows, the second padded: padding holds +5 so a max that looked at it would be wrong.
        using var tokens = tensor(new float[] { -3, -1, -2, -4, -6, -5, 5, 5 }, [2, 2, 2]);
        using var mask = tensor(new long[] { 1, 1, 1, 0 }, [2, 2]);
        using var pooled = SentencePooling.Pool(tokens, mask, PoolingMode.Max | PoolingMode.Mean | PoolingMode.LastToken | PoolingMode.WeightedMean);
        float[] v = pooled.data<float>().ToArray();
        // row 0: max (-2,-1), mean (-2.5,-2.5), weighted ((-3+2·-2)/3, (-1+2·-4)/3), last (-2,-4)
        Assert.Equal([-2f, -1f, -2.5f, -2.5f, -7f / 3, -3f, -2f, -4f], v[..8], new FloatTolerance(1e-6f));
        // row 1: only the first token counts
        Assert.Equal([-6f, -5f, -6f, -5f, -6f, -5f, -6f, -5f], v[8..], new FloatTolerance(1e-6f));
    }

    [Fact]
    public void ASentenceTransformersFolderSetsPoolingNormalisationAndLength()
    {
        string folder = Path.Combine(Path.GetTempPath(), "debertasharp-st-" + Guid.NewGuid().ToString("N"));
        try
        {
            WriteSentenceTransformer(folder, TaskModels.Sentiment, "pooling_mode_cls_token", maxSeqLength: 6, normalize: true);
            var st = SentenceTransformerConfig.Read(folder);
            Assert.Equal(PoolingMode.Cls, st.Pooling);
            Assert.True(st.Normalize);
            Assert.Equal(6, st.MaxSeqLength);

            using var embedder = SentenceEmbeddingPipeline.FromPretrained(folder);
            Assert.Equal(6, embedder.MaxLength);
            float[] vector = embedder.Embed(Texts[1]);
            TokenEncoding truncated = embedder.Tokenizer.Encode(Texts[1], new EncodeOptions { MaxLength = 6, Truncation = TruncationStrategy.LongestFirst });
            Assert.Equal(6, truncated.Length);
            float[] cls = Hidden(folder, truncated)[0];
            double norm = Math.Sqrt(cls.Sum(v => (double)v * v));
            AssertClose([.. cls.Select(v => v / norm)], vector);
            Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 1e-5);

            using var overridden = SentenceEmbeddingPipeline.FromPretrained(folder, new SentenceEmbeddingOptions { Pooling = PoolingMode.Mean, Normalize = false });
            AssertClose(Mean(Hidden(folder, truncated)), overridden.Embed(Texts[1]));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void UnsupportedSentenceTransformerModulesAreRefusedByName()
    {
        string folder = Path.Combine(Path.GetTempPath(), "debertasharp-st-" + Guid.NewGuid().ToString("N"));
        try
        {
            WriteSentenceTransformer(folder, TaskModels.Sentiment, "pooling_mode_mean_tokens", maxSeqLength: null, normalize: false);
            string modules = Path.Combine(folder, "modules.json");
            File.WriteAllText(modules, File.ReadAllText(modules).TrimEnd(']', '\n', ' ') +
                ", {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"}]");
            var error = Assert.Throws<DebertaConfigurationException>(() => SentenceEmbeddingPipeline.FromPretrained(folder));
            Assert.Contains("sentence_transformers.models.Dense", error.Message);

            File.WriteAllText(Path.Combine(folder, "1_Pooling", "config.json"), "{\"word_embedding_dimension\": 32}");
            error = Assert.Throws<DebertaConfigurationException>(() => SentenceTransformerConfig.Read(folder));
            Assert.Contains(Path.Combine("1_Pooling", "config.json"), error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A sentence-transformers folder as <c>SentenceTransformer.save</c> writes it, around a copy of <paramref name="checkpoint"/>.</summary>
    internal static void WriteSentenceTransformer(string folder, string checkpoint, string poolingKey, int? maxSeqLength, bool normalize)
    {
        Directory.CreateDirectory(Path.Combine(folder, "1_Pooling"));
        foreach (string file in Directory.GetFiles(checkpoint))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        var modules = new List<object>
        {
            new { idx = 0, name = "0", path = "", type = "sentence_transformers.models.Transformer" },
            new { idx = 1, name = "1", path = "1_Pooling", type = "sentence_transformers.models.Pooling" },
        };
        if (normalize)
        {
            Directory.CreateDirectory(Path.Combine(folder, "2_Normalize"));
            modules.Add(new { idx = 2, name = "2", path = "2_Normalize", type = "sentence_transformers.models.Normalize" });
        }

        File.WriteAllText(Path.Combine(folder, "modules.json"), JsonSerializer.Serialize(modules));
        var pooling = new Dictionary<string, object> { ["word_embedding_dimension"] = 32 };
        foreach (string key in new[] { "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens" })
        {
            pooling[key] = key == poolingKey;
        }

        File.WriteAllText(Path.Combine(folder, "1_Pooling", "config.json"), JsonSerializer.Serialize(pooling));
        if (maxSeqLength is int n)
        {
            File.WriteAllText(Path.Combine(folder, "sentence_bert_config.json"), $"{{\"max_seq_length\": {n}, \"do_lower_case\": false}}");
        }
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
