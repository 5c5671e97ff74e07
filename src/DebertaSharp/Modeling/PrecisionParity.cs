using DebertaSharp.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>How often a lower-precision model picks the same class as the float32 model.</summary>
/// <param name="DType">The lower precision.</param>
/// <param name="Compared">Predictions compared (tokens with attention mask 1 for token-level heads, sequences otherwise).</param>
/// <param name="Agreeing">Predictions whose top-1 class is the same.</param>
/// <param name="MaxAbsDifference">Largest |logit difference| over the compared predictions.</param>
public sealed record PrecisionAgreement(ScalarType DType, long Compared, long Agreeing, double MaxAbsDifference)
{
    /// <summary>Agreeing / Compared.</summary>
    public double Top1 => Compared == 0 ? double.NaN : (double)Agreeing / Compared;
}

/// <summary>
/// Top-1 agreement of a model run in bfloat16 or float16 with the same model in float32: the parity check for
/// half-precision inference (masked-LM, token or sequence classification logits).
/// </summary>
public static class PrecisionParity
{
    /// <summary>
    /// Runs <paramref name="reference"/> (float32) and <paramref name="candidate"/> (same weights, lower precision) on
    /// <paramref name="inputs"/> in inference mode and compares the argmax of their logits: per token where the attention
    /// mask is 1 for [B, L, classes] logits, per sequence for [B, classes].
    /// </summary>
    public static PrecisionAgreement Compare(DebertaPreTrainedModel reference, DebertaPreTrainedModel candidate, DebertaInputs inputs)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var plain = inputs with { Labels = null };
        using var expected = reference.Forward(plain);
        using var actual = candidate.Forward(plain);
        var a = expected.Logits ?? throw new DebertaSharpException($"{reference.ArchitectureName} has no logits to compare.");
        var b = actual.Logits!.to(ScalarType.Float32);
        var agree = a.argmax(-1).eq(b.argmax(-1));                               // [B, L] or [B]
        var difference = (a - b).abs().amax(-1);                                 // [B, L] or [B]
        if (agree.dim() == 2 && inputs.AttentionMask is { } mask)
        {
            var keep = mask.ne(0).to(agree.device);
            agree = agree.masked_select(keep);
            difference = difference.masked_select(keep);
        }
        return new PrecisionAgreement(candidate.DType, agree.numel(), agree.sum().item<long>(),
            difference.numel() == 0 ? 0 : difference.max().item<float>());
    }

    /// <summary>
    /// Loads the masked-LM checkpoint in <paramref name="folder"/> in float32 and in <paramref name="dtype"/> and compares
    /// them on its <c>inputs.safetensors</c> (<c>input_ids</c>, optional <c>attention_mask</c>).
    /// </summary>
    public static PrecisionAgreement OnFixture(string folder, ScalarType dtype)
    {
        using var reference = DebertaForMaskedLM.FromPretrained(folder);
        using var candidate = DebertaForMaskedLM.FromPretrained(folder, dtype: dtype);
        using var file = SafetensorsFile.Open(Path.Combine(folder, "inputs.safetensors"));
        using var ids = file.Read("input_ids");
        using var mask = file.Contains("attention_mask") ? file.Read("attention_mask") : ones_like(ids);
        return Compare(reference, candidate, new DebertaInputs(ids) { AttentionMask = mask });
    }
}
