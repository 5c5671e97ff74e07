using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Mixed precision for the model's matrix products (torch's <c>autocast</c>, which TorchSharp 0.107 lacks): inside
/// <see cref="Enter"/> every dense layer (<see cref="Dense"/>) and the attention products cast their float32 operands
/// to the compute type inside the autograd graph, so gradients reach the float32 master weights, and return float32.
/// Everything else (embeddings, LayerNorm, softmax, GELU, losses) stays in float32.
/// </summary>
/// <remarks>
/// The state is async-local: it applies to the code that entered it (and tasks it starts), not to other threads or
/// models used elsewhere at the same time, and ends when the scope is disposed. The <see cref="Training.Trainer"/>
/// enters it around each forward and backward pass when <see cref="Training.TrainerOptions.MixedPrecision"/> is set.
/// Gradient checkpointing replays a layer in the precision of its first pass.
/// </remarks>
public static class Autocast
{
    private static readonly AsyncLocal<ScalarType?> Active = new();

    /// <summary>The compute type of matrix products here and now; <c>null</c> outside any <see cref="Enter"/> scope.</summary>
    public static ScalarType? ComputeType => Active.Value;

    /// <summary>
    /// Runs matrix products in <paramref name="computeType"/> (<see cref="ScalarType.BFloat16"/> or
    /// <see cref="ScalarType.Float16"/>) until the returned scope is disposed; <c>null</c> turns it off inside the scope.
    /// Scopes nest; disposing one restores the state it found.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">A type other than bfloat16, float16 or null.</exception>
    public static IDisposable Enter(ScalarType? computeType)
    {
        if (computeType is not (null or ScalarType.BFloat16 or ScalarType.Float16))
            throw new DebertaConfigurationException($"Autocast computes in bfloat16 or float16, not {computeType}.");
        return AsyncLocalScope.Set(Active, computeType);
    }
}
