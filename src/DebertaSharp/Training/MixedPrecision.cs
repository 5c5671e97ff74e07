using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// The precision of the matrix products in training (<see cref="TrainerOptions.MixedPrecision"/>), with autocast
/// semantics (<see cref="Modeling.Autocast"/>): dense layers in the low precision; master weights, AdamW state,
/// LayerNorm, softmax and losses in float32.
/// </summary>
public enum MixedPrecision
{
    /// <summary>Everything in float32 (default).</summary>
    None,

    /// <summary>
    /// bfloat16 products: float32's range, so no loss scaling. Fast on CPUs with AMX, on AMD CPUs with avx512_bf16
    /// (Zen 4, Zen 5: about 2× float32) and on CUDA GPUs from Ampere on. The flag alone does not decide it: on an Intel
    /// Xeon with avx512_bf16 but no AMX, bfloat16 products ran at about 0.55× float32's rate, and without bf16
    /// instructions libtorch emulates them. Measure (<c>deberta bench train --mixed-precision bf16</c>).
    /// </summary>
    BFloat16,

    /// <summary>
    /// float16 products with dynamic loss scaling (<see cref="GradScaler"/>, <see cref="TrainerOptions.LossScaling"/>).
    /// Meant for GPUs; it runs on the CPU, but libtorch's CPU float16 products are slow there (use
    /// <see cref="BFloat16"/> on the CPU).
    /// </summary>
    Float16,
}

/// <summary>What a <see cref="MixedPrecision"/> means for the products.</summary>
internal static class MixedPrecisionTypes
{
    /// <summary>The type the dense layers compute in under <paramref name="precision"/>; <c>null</c> for float32 (<see cref="MixedPrecision.None"/>).</summary>
    public static ScalarType? ComputeType(this MixedPrecision precision) => precision switch
    {
        MixedPrecision.None => null,
        MixedPrecision.BFloat16 => ScalarType.BFloat16,
        MixedPrecision.Float16 => ScalarType.Float16,
        _ => throw new TrainingException($"Mixed precision must be None, BFloat16 or Float16, got {(int)precision}."),
    };
}
