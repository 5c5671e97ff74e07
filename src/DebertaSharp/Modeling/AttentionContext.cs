using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// What every layer's attention shares in one forward pass: the options, the attention mask in the forms the chosen
/// implementation needs, and the relative positions. Built once per forward by <see cref="DebertaEncoder.BuildAttentionContext"/>.
/// </summary>
public sealed class AttentionContext : IDisposable
{
    private AttentionContext(AttentionOptions options, AttentionPath path, Tensor? pairMask, Tensor? additiveMask, Tensor? queryRowMask,
        RelativeContext? relative, long queryLength, long keyLength)
    {
        Options = options;
        Path = path;
        PairMask = pairMask;
        AdditiveMask = additiveMask;
        QueryRowMask = queryRowMask;
        Relative = relative;
        QueryLength = queryLength;
        KeyLength = keyLength;
    }

    /// <summary>The options in force.</summary>
    public AttentionOptions Options { get; }

    /// <summary>How every layer computes attention in this pass (decided once, by <see cref="AttentionPlan.Choose"/>).</summary>
    internal AttentionPath Path { get; }

    /// <summary>Allowed (query, key) pairs, bool [B, 1, Lq, Lk]: built for the reference implementation only.</summary>
    public Tensor? PairMask { get; }

    /// <summary>
    /// 0 where a key may be attended and the dtype's lowest value where not, in the model dtype: [B, 1, 1, Lk] from a
    /// padding mask, [B, 1, Lq, Lk] from a pair mask. <c>null</c> when nothing is masked or for the reference implementation.
    /// </summary>
    public Tensor? AdditiveMask { get; }

    /// <summary>
    /// 1 for query rows with at least one allowed key, 0 for fully masked rows, [B, 1, Lq, 1] in the model dtype: the
    /// outputs of masked rows are zeroed as HF's masked softmax zeroes their probabilities. <c>null</c> when nothing is masked.
    /// </summary>
    public Tensor? QueryRowMask { get; }

    /// <summary>Relative positions, <c>null</c> without relative attention.</summary>
    public RelativeContext? Relative { get; }

    /// <summary>Query length.</summary>
    public long QueryLength { get; }

    /// <summary>Key length.</summary>
    public long KeyLength { get; }

    /// <summary>True when queries are processed in chunks of <see cref="AttentionOptions.QueryChunkSize"/>.</summary>
    public bool Chunked => Path == AttentionPath.Chunked;

    /// <summary>
    /// Builds the context from a [B, Lk] padding mask or a [B, Lq, Lk] pair mask (nonzero = attend). For the reference
    /// implementation the pair mask [B, 1, Lq, Lk] (a padded query row fully masked); otherwise an additive mask and a
    /// row mask, or neither when every entry is nonzero. Takes ownership of <paramref name="relative"/>.
    /// </summary>
    internal static AttentionContext Build(AttentionOptions options, AttentionPath path, Tensor attentionMask, ScalarType dtype,
        RelativeContext? relative, long queryLength, long keyLength)
    {
        using var scope = NewDisposeScope();
        var allowed = attentionMask.ne(0);
        Tensor? pairs = null, additive = null, rows = null;
        if (path == AttentionPath.Reference)
        {
            pairs = allowed.dim() == 2
                ? allowed.unsqueeze(1).unsqueeze(2).logical_and(allowed.unsqueeze(1).unsqueeze(3))   // m_i · m_j
                : allowed.unsqueeze(1);
            pairs.MoveToOuterDisposeScope();
        }
        else if (!allowed.all().item<bool>())
        {
            var lowest = finfo(dtype).min;
            if (allowed.dim() == 2)
            {
                additive = zeros(allowed.shape[0], 1, 1, keyLength, dtype: dtype, device: allowed.device)
                    .masked_fill(allowed.logical_not().view(allowed.shape[0], 1, 1, keyLength), lowest);
                rows = allowed.to(dtype).view(allowed.shape[0], 1, queryLength, 1);
            }
            else
            {
                additive = zeros(allowed.shape[0], 1, queryLength, keyLength, dtype: dtype, device: allowed.device)
                    .masked_fill(allowed.logical_not().unsqueeze(1), lowest);
                rows = allowed.any(-1).to(dtype).view(allowed.shape[0], 1, queryLength, 1);
            }
            additive.MoveToOuterDisposeScope();
            rows.MoveToOuterDisposeScope();
        }
        return new AttentionContext(options, path, pairs, additive, rows, relative, queryLength, keyLength);
    }

    /// <summary>The tensors of this context in a fixed order (for recomputation), nulls included.</summary>
    internal Tensor?[] Tensors => [PairMask, AdditiveMask, QueryRowMask, .. Relative?.Tensors ?? []];

    /// <summary>The same context over other tensors (in the order of <see cref="Tensors"/>).</summary>
    internal AttentionContext With(IReadOnlyList<Tensor?> tensors) =>
        new(Options, Path, tensors[0], tensors[1], tensors[2], Relative?.With(tensors.Skip(3).ToArray()), QueryLength, KeyLength);

    /// <inheritdoc/>
    public void Dispose()
    {
        PairMask?.Dispose();
        AdditiveMask?.Dispose();
        QueryRowMask?.Dispose();
        Relative?.Dispose();
    }
}
