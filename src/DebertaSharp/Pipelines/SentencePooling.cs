using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// How token vectors become one sentence vector (sentence-transformers' <c>Pooling</c> modes). Several modes may be
/// combined: their vectors are concatenated in the order of this enum's values, as sentence-transformers does.
/// </summary>
[Flags]
public enum PoolingMode
{
    /// <summary>The first token's vector (<c>[CLS]</c>; <c>pooling_mode_cls_token</c>).</summary>
    Cls = 1,

    /// <summary>Per dimension, the largest value over the attended tokens (<c>pooling_mode_max_tokens</c>).</summary>
    Max = 2,

    /// <summary>The mean over the attended tokens (<c>pooling_mode_mean_tokens</c>).</summary>
    Mean = 4,

    /// <summary>The sum over the attended tokens divided by √count (<c>pooling_mode_mean_sqrt_len_tokens</c>).</summary>
    MeanSqrtLength = 8,

    /// <summary>The mean weighted by position 1, 2, … over the attended tokens (<c>pooling_mode_weightedmean_tokens</c>).</summary>
    WeightedMean = 16,

    /// <summary>The last attended token's vector (<c>pooling_mode_lasttoken</c>).</summary>
    LastToken = 32,
}

/// <summary>Pooling of a batch of token vectors with sentence-transformers' semantics.</summary>
public static class SentencePooling
{
    /// <summary>Every defined mode, in concatenation order.</summary>
    private static readonly PoolingMode[] Order =
        [PoolingMode.Cls, PoolingMode.Max, PoolingMode.Mean, PoolingMode.MeanSqrtLength, PoolingMode.WeightedMean, PoolingMode.LastToken];

    /// <summary>How many vectors <paramref name="mode"/> concatenates (the output is that many × hidden wide).</summary>
    /// <exception cref="DebertaInputException">No mode, or a value outside the defined modes.</exception>
    public static int Count(PoolingMode mode)
    {
        int all = Order.Aggregate(0, (acc, m) => acc | (int)m);
        if (mode == 0 || ((int)mode & ~all) != 0)
        {
            throw new DebertaInputException($"Pooling mode {(int)mode} is not a combination of {string.Join(", ", Order)}.");
        }

        return Order.Count(m => mode.HasFlag(m));
    }

    /// <summary>
    /// Pools <paramref name="tokens"/> [B, L, H] over the positions where <paramref name="attentionMask"/> [B, L] is 1;
    /// returns [B, H × <see cref="Count"/>] in <paramref name="tokens"/>' dtype (computed in float32).
    /// </summary>
    /// <exception cref="DebertaInputException">Bad shapes or mode.</exception>
    public static Tensor Pool(Tensor tokens, Tensor attentionMask, PoolingMode mode)
    {
        Count(mode);
        if (tokens.dim() != 3 || attentionMask.dim() != 2 || tokens.shape[0] != attentionMask.shape[0] || tokens.shape[1] != attentionMask.shape[1])
        {
            throw new DebertaInputException(
                $"Pooling needs token vectors [B, L, H] and a mask [B, L]; got {Shapes.Format(tokens.shape)} and {Shapes.Format(attentionMask.shape)}.");
        }

        using var scope = NewDisposeScope();
        Tensor x = tokens.to(ScalarType.Float32);                                  // [B, L, H]
        Tensor valid = attentionMask.to(ScalarType.Float32).unsqueeze(-1);         // [B, L, 1]
        var parts = new List<Tensor>();
        foreach (PoolingMode m in Order.Where(m => mode.HasFlag(m)))
        {
            switch (m)
            {
                case PoolingMode.Cls:
                    parts.Add(x[.., 0]);                                                 // [B, H]
                    break;
                case PoolingMode.Max:
                    // Padding is filled with -1e9 (not -inf) so an all-padding row gives -1e9, as sentence-transformers.
                    parts.Add(x.masked_fill(valid.eq(0), -1e9).amax([1]));              // [B, H]
                    break;
                case PoolingMode.Mean:
                case PoolingMode.MeanSqrtLength:
                    Tensor sum = (x * valid).sum(1);                                    // [B, H]
                    Tensor count = valid.sum(1).clamp_min(1e-9);                        // [B, 1]
                    parts.Add(m == PoolingMode.Mean ? sum / count : sum / count.sqrt());
                    break;
                case PoolingMode.WeightedMean:
                    Tensor positions = arange(1, x.shape[1] + 1, ScalarType.Float32, x.device).view(1, -1, 1);   // [1, L, 1]
                    Tensor weights = valid * positions;                                                         // [B, L, 1]
                    parts.Add((x * weights).sum(1) / weights.sum(1).clamp_min(1e-9));
                    break;
                case PoolingMode.LastToken:
                    // Index of the last 1 of each mask row (0 for an all-padding row, whose vector is then zeroed).
                    long length = x.shape[1];
                    Tensor last = (valid.squeeze(-1) * arange(length, ScalarType.Float32, x.device)).argmax(1);   // [B]
                    Tensor gathered = (x * valid).gather(1, last.view(-1, 1, 1).expand(-1, 1, x.shape[2]));       // [B, 1, H]
                    parts.Add(gathered.squeeze(1));
                    break;
            }
        }

        Tensor pooled = parts.Count == 1 ? parts[0] : cat(parts, 1);               // [B, H × k]
        return pooled.to(tokens.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>L2-normalises each row of <paramref name="vectors"/> [B, D] (sentence-transformers' <c>Normalize</c>; eps 1e-12).</summary>
    public static Tensor Normalize(Tensor vectors) => nn.functional.normalize(vectors, p: 2, dim: 1, eps: 1e-12);
}
