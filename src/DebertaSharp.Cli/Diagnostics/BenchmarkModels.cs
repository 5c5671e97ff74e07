using DebertaSharp.Configuration;

namespace DebertaSharp.Diagnostics;

/// <summary>Configurations the benchmarks use.</summary>
public static class BenchmarkModels
{
    /// <summary>
    /// deberta-v3-base's shape: hidden 768, 12 layers, 12 heads, intermediate 3072, vocabulary 128100, 256 position
    /// buckets, max_relative_positions 512, share_att_key, p2c|c2p, relative embeddings through LayerNorm.
    /// </summary>
    public static DebertaConfig DebertaV3Base() => DebertaConfig.Parse("""
        {
          "model_type": "deberta-v2", "vocab_size": 128100, "hidden_size": 768, "num_hidden_layers": 12,
          "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 0,
          "initializer_range": 0.02, "layer_norm_eps": 1e-7, "relative_attention": true, "max_relative_positions": -1,
          "position_buckets": 256, "norm_rel_ebd": "layer_norm", "share_att_key": true, "pos_att_type": ["p2c", "c2p"],
          "position_biased_input": false, "pad_token_id": 0, "pooler_hidden_size": 768, "pooler_dropout": 0,
          "pooler_hidden_act": "gelu"
        }
        """, "deberta-v3-base shape");
}
