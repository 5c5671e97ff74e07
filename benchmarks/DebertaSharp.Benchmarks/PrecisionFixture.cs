using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Benchmarks;

/// <summary>
/// Makes the half-precision agreement fixture (<c>tests/DebertaSharp.Tests/Fixtures/precision-mlm</c>): a small
/// DeBERTa-v3-style masked LM trained on a synthetic language until its predictions are confident, plus evaluation
/// inputs. Random-weight models are no fixture for top-1 agreement: their logits are nearly tied, so any rounding flips
/// the argmax. Sequences are arithmetic progressions t_i = 3 + (s + δ·i) mod 61 with a per-sequence step δ ∈ {1, 2, 3};
/// 15% of positions are replaced by [MASK] (id 1) and must be inferred from the neighbours; the loss covers every
/// position (masked ones inferred, the others copied), so every logit row is a confident prediction.
/// </summary>
internal static class PrecisionFixture
{
    private const int Vocab = 64, Length = 32, MaskId = 1, FirstToken = 3, Cycle = 61;

    public static void Make(string folder)
    {
        torch.set_num_threads(2);
        var config = DebertaConfig.Parse("""
            {
              "model_type": "deberta-v2", "vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 4, "intermediate_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
              "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64, "type_vocab_size": 0,
              "initializer_range": 0.02, "layer_norm_eps": 1e-7, "relative_attention": true, "max_relative_positions": 64,
              "position_buckets": 16, "norm_rel_ebd": "layer_norm", "share_att_key": true, "pos_att_type": ["p2c", "c2p"],
              "position_biased_input": false, "pad_token_id": 0
            }
            """, "precision fixture");
        manual_seed(20240601);
        using var model = new DebertaForMaskedLM(config);
        model.train();
        using var optimizer = new AdamW(model.named_parameters(), new AdamWOptions { LearningRate = 3e-3, WeightDecay = 0 });
        for (int step = 1; step <= 600; step++)
        {
            using var scope = NewDisposeScope();
            var (ids, _, tokens) = Batch(64);
            // Every position is a target (masked ones inferred, the others copied), so that every logit row of the
            // fixture is a confident prediction.
            using var output = model.Forward(new DebertaInputs(ids) { Labels = tokens });
            output.Loss!.backward();
            optimizer.Step();
            optimizer.ZeroGrad();
            if (step % 100 == 0) Console.WriteLine($"step {step}: loss {output.Loss.item<float>():F4}");
        }
        model.eval();
        manual_seed(7);
        var (evalIds, evalLabels, _) = Batch(64);
        using (var inference = inference_mode())
        using (var output = model.Forward(new DebertaInputs(evalIds)))
        {
            var predicted = output.Logits!.argmax(-1);
            var targets = evalLabels.ne(-100);
            double accuracy = predicted.masked_select(targets).eq(evalLabels.masked_select(targets)).to(ScalarType.Float32).mean().item<float>();
            Console.WriteLine($"masked-token accuracy on the evaluation inputs: {accuracy:P2}");
        }
        model.SavePretrained(folder);
        SafetensorsWriter.Save(Path.Combine(folder, "inputs.safetensors"), new Dictionary<string, Tensor>
        {
            ["input_ids"] = evalIds,
            ["attention_mask"] = ones_like(evalIds),
            ["labels"] = evalLabels,
        }, new Dictionary<string, string> { ["format"] = "pt" });
        Console.WriteLine($"wrote {folder}");
    }

    /// <summary>[B, Length] masked progressions, the masked tokens (-100 elsewhere) and all tokens.</summary>
    private static (Tensor Ids, Tensor Labels, Tensor Tokens) Batch(int batch)
    {
        var start = randint(0, Cycle, [batch, 1], dtype: ScalarType.Int64);
        var step = randint(1, 4, [batch, 1], dtype: ScalarType.Int64);
        var position = arange(Length, dtype: ScalarType.Int64).unsqueeze(0);
        var tokens = (start + step * position).remainder(Cycle) + FirstToken;              // [B, L]
        var masked = rand(batch, Length).lt(0.15);
        var ids = tokens.masked_fill(masked, MaskId);
        var labels = tokens.masked_fill(masked.logical_not(), -100);
        return (ids, labels, tokens);
    }
}
