using DebertaSharp.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The Enhanced Mask Decoder of the DeBERTa paper, computed as the original microsoft/DeBERTa code does
/// (<c>apps/models/masked_language_model.py</c>, <c>EnhancedMaskDecoder</c>). It owns no weights: it reuses the last
/// encoder layer, the absolute position table <c>deberta.embeddings.position_embeddings</c> and the MLM head.
/// <list type="bullet">
/// <item><c>position_biased_input=false</c>: H = input of the last encoder layer, Z = position table at <c>position_ids</c> (default
/// 0…L−1; not projected, no LayerNorm); the query q = Z + H goes <see cref="Steps"/> times through the last layer
/// (keys and values stay H, same pair mask, relative context rebuilt as the encoder builds it); the head reads q.</item>
/// <item><c>position_biased_input=true</c>: absolute positions are already in the input, so the last layer's
/// output goes to the head unchanged (no extra pass).</item>
/// </list>
/// </summary>
internal sealed class EnhancedMaskDecoder
{
    /// <summary>Passes of the query through the last layer (fixed to 2 in the original code).</summary>
    public const int Steps = 2;

    private readonly DebertaModel _deberta;
    private readonly Func<Tensor, Tensor, Tensor> _head;

    public EnhancedMaskDecoder(DebertaModel deberta, Func<Tensor, Tensor, Tensor> head)
    {
        _deberta = deberta;
        _head = head;
    }

    /// <summary>Why EMD cannot run on <paramref name="deberta"/>, or <c>null</c> when it can.</summary>
    public static string? Unsupported(DebertaModel deberta)
    {
        var config = deberta.Config;
        if (config.PositionBiasedInput) return null;
        if (deberta.Embeddings.PositionEmbeddings is null)
            return "the model has no absolute position table (deberta.embeddings.position_embeddings.weight); " +
                   "the Enhanced Mask Decoder needs it when position_biased_input=false";
        if (config.EffectiveEmbeddingSize != config.HiddenSize)
            return $"embedding_size {config.EffectiveEmbeddingSize} ≠ hidden_size {config.HiddenSize}: the original code adds the " +
                   "unprojected position table to hidden states, which only works when both sizes agree";
        return null;
    }

    /// <summary>
    /// Decodes the targets. <paramref name="hiddenStates"/> are the encoder's states in HF order (index 0 = embedding
    /// output, i = output of layer i−1); <paramref name="attentionMask"/> [B, L]; <paramref name="targetIndex"/> [T]
    /// flat row-major indices b·L + l. Returns logits [T, vocab], the query after each step at the targets [T, hidden]
    /// (one entry with <c>position_biased_input</c>), and Z [B, L, hidden] (<c>null</c> with <c>position_biased_input</c>).
    /// Results belong to the caller's dispose scope.
    /// </summary>
    public (Tensor Logits, List<Tensor> Queries, Tensor? PositionStates) Forward(IReadOnlyList<Tensor> hiddenStates,
        Tensor attentionMask, Tensor targetIndex, Tensor? positionIds)
    {
        if (Unsupported(_deberta) is { } why) throw new DebertaConfigurationException($"Enhanced Mask Decoder: {why}.");
        using var scope = NewDisposeScope();
        var config = _deberta.Config;
        var encoder = _deberta.Encoder;
        var steps = new List<Tensor>();
        Tensor? z = null;
        if (config.PositionBiasedInput)
        {
            steps.Add(hiddenStates[^1]);                                                  // [B, L, H]
        }
        else
        {
            var h = hiddenStates[^2];                                                     // [B, L, H] input of the last layer
            long b = h.shape[0], l = h.shape[1];
            var ids = PositionIds(config, positionIds, b, l, h.device);                  // [B, L]
            var table = _deberta.Embeddings.PositionEmbeddings!;                          // [P, H]
            z = table.index_select(0, ids.reshape(-1)).view(b, l, -1);                   // [B, L, H]
            using var context = encoder.BuildAttentionContext(attentionMask, l, l, h.dtype);   // same mask and positions as the encoder
            var last = encoder.Layers[^1];
            var query = z + h;                                                            // [B, L, H]
            for (int i = 0; i < Steps; i++)
            {
                (query, _) = last.Forward(h, context, query);                             // [B, L, H]
                steps.Add(query);
            }
        }
        var queries = steps.Select(s => s.reshape(-1, s.shape[^1]).index_select(0, targetIndex)).ToList();   // each [T, H]
        var logits = _head(queries[^1], _deberta.Embeddings.WordEmbeddings);                                  // [T, vocab]
        logits.MoveToOuterDisposeScope();
        foreach (var q in queries) q.MoveToOuterDisposeScope();
        z?.MoveToOuterDisposeScope();
        return (logits, queries, z);
    }

    /// <summary>Positions for Z: the given ids (broadcast over the batch) or 0…L−1, checked against the table size.</summary>
    private static Tensor PositionIds(DebertaConfig config, Tensor? positionIds, long batch, long length, Device device)
    {
        if (positionIds is null)
        {
            if (length > config.MaxPositionEmbeddings)
                throw new DebertaInputException(
                    $"Sequence length {length} exceeds max_position_embeddings {config.MaxPositionEmbeddings}, the size of the absolute position table the Enhanced Mask Decoder reads; truncate the input.");
            return arange(length, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(batch, length);
        }
        if (positionIds.dim() != 2 || positionIds.shape[1] != length || (positionIds.shape[0] != batch && positionIds.shape[0] != 1))
            throw new DebertaInputException($"position_ids has shape {Shapes.Format(positionIds.shape)}; the Enhanced Mask Decoder needs [{batch}, {length}] or [1, {length}].");
        long min = positionIds.min().to(ScalarType.Int64).item<long>(), max = positionIds.max().to(ScalarType.Int64).item<long>();
        if (min < 0 || max >= config.MaxPositionEmbeddings)
            throw new DebertaInputException($"position_ids value {(min < 0 ? min : max)} is outside [0, {config.MaxPositionEmbeddings}) (max_position_embeddings).");
        return positionIds.to(ScalarType.Int64).expand(batch, length);
    }
}
