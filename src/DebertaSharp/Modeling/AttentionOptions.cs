namespace DebertaSharp.Modeling;

/// <summary>
/// Run-time choices of how a model computes attention; none of them changes the result beyond float rounding and none
/// is saved with the checkpoint. Set through <see cref="DebertaPreTrainedModel.AttentionOptions"/>.
/// </summary>
public sealed record AttentionOptions
{
    /// <summary>The attention algorithm (default <see cref="AttentionImplementation.Fast"/>).</summary>
    public AttentionImplementation Implementation { get; init; } = AttentionImplementation.Fast;

    /// <summary>
    /// With <see cref="AttentionImplementation.Fast"/>, queries are processed in chunks of <see cref="QueryChunkSize"/>
    /// rows when the query length is above this (default 1024), so that memory grows linearly in the length instead of
    /// quadratically. 0 chunks every input; <see cref="int.MaxValue"/> never chunks.
    /// </summary>
    public int ChunkQueriesAbove { get; init; } = 1024;

    /// <summary>Query rows per chunk when chunking (default 256).</summary>
    public int QueryChunkSize { get; init; } = 256;

    /// <summary>
    /// Whether the fast implementation hands the position bias to <c>scaled_dot_product_attention</c> (true) or
    /// computes softmax(q·kᵀ + bias)·v with the bias added inside the batched product (false); <c>null</c> (default)
    /// chooses per device: the fused kernel on CUDA, the explicit product on the CPU, where it measured faster at every
    /// benchmark shape (libtorch 2.10's CPU kernel pays for the float mask and for short rows). Probabilities that are
    /// returned, talking heads and active attention dropout always use the explicit product.
    /// </summary>
    public bool? UseScaledDotProductAttention { get; init; }

    /// <summary>
    /// Recompute each encoder layer during backward instead of keeping its activations (applies in training mode with
    /// autograd on; default off). Gradients are identical: dropout draws the same masks because the random
    /// generator's state is restored for the recomputation. Costs about one more forward pass per step.
    /// </summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="DebertaConfigurationException">A value is out of range (the message names it).</exception>
    public void Validate()
    {
        if (QueryChunkSize < 1)
            throw new DebertaConfigurationException($"AttentionOptions.QueryChunkSize must be at least 1, got {QueryChunkSize}.");
        if (ChunkQueriesAbove < 0)
            throw new DebertaConfigurationException($"AttentionOptions.ChunkQueriesAbove must be 0 or more, got {ChunkQueriesAbove}.");
        if (!Enum.IsDefined(Implementation))
            throw new DebertaConfigurationException($"AttentionOptions.Implementation has the undefined value {(int)Implementation}.");
    }
}
