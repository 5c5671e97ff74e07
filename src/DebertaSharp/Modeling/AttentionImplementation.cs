namespace DebertaSharp.Modeling;

/// <summary>How the disentangled attention is computed. Every implementation gives the same numbers within float rounding.</summary>
public enum AttentionImplementation
{
    /// <summary>
    /// Default. Projects and scores only the relative-position rows that the sequence length can reach (2L − 1 when
    /// L &lt; span, instead of all 2·span), turns them into [L, L] biases by a strided view where every distance has its
    /// own row (a gather otherwise; the choice is arithmetic, see the README's Performance section), and adds the
    /// c2p + p2c bias inside the q·kᵀ product (<c>baddbmm</c>) before an explicit softmax; <c>scaled_dot_product_attention</c>
    /// takes the bias as its mask on CUDA or when <see cref="AttentionOptions.UseScaledDotProductAttention"/> asks for
    /// it. In inference passes (eval mode, no autograd) each layer keeps its projections of the relative table between
    /// passes. Long inputs are processed in query chunks (see <see cref="AttentionOptions"/>).
    /// </summary>
    Fast,

    /// <summary>
    /// HuggingFace's algorithm step by step: the whole 2·span-row table projected per layer, c2p and p2c gathered into
    /// [B, heads, L, L], explicit masked softmax. Kept for parity tests and as a baseline.
    /// </summary>
    Reference,
}
