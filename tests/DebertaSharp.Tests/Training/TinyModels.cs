using DebertaSharp.Configuration;

namespace DebertaSharp.Tests.Training;

/// <summary>Tiny DeBERTa-v3-style configurations (hidden 32, 2 layers) for fast training tests.</summary>
internal static class TinyModels
{
    public static DebertaConfig V3(int numLabels = 2, int vocabSize = 128, double dropout = 0.1)
    {
        var config = DebertaConfig.Parse($$"""
        {
          "model_type": "deberta-v2", "vocab_size": {{vocabSize}}, "hidden_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 128,
          "relative_attention": true, "position_buckets": 16, "max_relative_positions": 64, "norm_rel_ebd": "layer_norm",
          "share_att_key": true, "pos_att_type": ["p2c", "c2p"], "position_biased_input": false, "type_vocab_size": 0,
          "hidden_dropout_prob": {{D(dropout)}}, "attention_probs_dropout_prob": {{D(dropout)}}, "pooler_dropout": 0, "pooler_hidden_size": 32
        }
        """, "tiny-v3");
        config.SetNumLabels(numLabels);
        return config;
    }

    /// <summary>
    /// Writes a tiny pre-trained-style checkpoint (bare encoder, random weights) with the fixture tokenizer
    /// (tokenizer-v3, 1001 ids) into <paramref name="folder"/>, as `deberta finetune --model` expects.
    /// </summary>
    public static string WritePretrained(string folder, int seed = 3)
    {
        Directory.CreateDirectory(folder);
        string tokenizer = DebertaSharp.Tests.Tokenization.GoldenData.Folder("tokenizer-v3");
        DebertaSharp.Training.TrainingSeed.Set(seed);
        using (var model = new DebertaSharp.Modeling.DebertaModel(V3(vocabSize: 1001)))
            model.SavePretrained(folder);
        DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(tokenizer).SavePretrained(folder);
        return folder;
    }

    private static string D(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Tests in this collection use torch's global RNG and must not run beside others. Running alone, they also use one
/// torch thread: tiny models gain nothing from two, and on a loaded machine two OpenMP threads that wait for each other
/// made a 3-step run take 3.6 s instead of 0.2 s.
/// </summary>
[Xunit.CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTorchRng : Xunit.ICollectionFixture<SingleTorchThread>
{
    public const string Name = "serial torch rng";
}

/// <summary>One torch thread while the serial collection runs; the previous count afterwards.</summary>
public sealed class SingleTorchThread : IDisposable
{
    private readonly int _previous = TorchSharp.torch.get_num_threads();

    public SingleTorchThread() => TorchSharp.torch.set_num_threads(1);

    public void Dispose() => TorchSharp.torch.set_num_threads(_previous);
}
