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

    private static string D(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Tests in this collection use torch's global RNG or time-sensitive state and must not run beside others.</summary>
[Xunit.CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTorchRng
{
    public const string Name = "serial torch rng";
}
