using DebertaSharp.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The encoder stack: layers sharing one relative-embedding table (<c>rel_embeddings</c>, optionally normalised by
/// <c>encoder.LayerNorm</c>), and DeBERTa-v2's optional convolution beside layer 0. HF keys: <c>encoder.*</c>.
/// </summary>
public sealed class DebertaEncoder : nn.Module
{
    private readonly ModuleList<DebertaLayer> layer;
    private readonly Embedding? rel_embeddings;
    private readonly LayerNorm? LayerNorm;
    private readonly ConvLayer? conv;
    private readonly DebertaConfig _config;

    /// <summary>Builds the encoder.</summary>
    public DebertaEncoder(DebertaConfig config) : base("encoder")
    {
        _config = config;
        layer = new ModuleList<DebertaLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new DebertaLayer(config)).ToArray());
        if (config.RelativeAttention)
            rel_embeddings = nn.Embedding(config.PositionEmbeddingSpan * 2, config.HiddenSize);
        if (config.ModelType == DebertaModelType.DebertaV2)
        {
            if (config.NormalizesRelativeEmbeddings) LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
            if (config.ConvKernelSize > 0) conv = new ConvLayer(config);
        }
        RegisterComponents();
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<DebertaLayer> Layers => layer.ToList();

    /// <summary>
    /// Boolean mask [B, 1, Lq, Lk] of allowed (query, key) pairs from a [B, L] padding mask (m_i·m_j, so padded query
    /// rows are fully masked) or a [B, Lq, Lk] pair mask.
    /// </summary>
    public static Tensor PairMask(Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var m = attentionMask.ne(0);
        var keep = m.dim() == 2 ? m.unsqueeze(1).unsqueeze(2).logical_and(m.unsqueeze(1).unsqueeze(3)) : m.unsqueeze(1);
        return keep.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Relative embeddings and (query, key) table indices for <paramref name="queryLength"/> × <paramref name="keyLength"/>,
    /// or <c>null</c> without relative attention. v1 uses rows [max_rel − span, max_rel + span) with
    /// span = min(max(Lq, Lk), max_rel); v2 uses the whole table (span = buckets or max_rel) and log buckets.
    /// </summary>
    public RelativeContext? BuildRelativeContext(long queryLength, long keyLength)
    {
        if (rel_embeddings is null) return null;
        using var scope = NewDisposeScope();
        Tensor table = rel_embeddings.weight!;
        var device = table.device;
        int maxRel = _config.EffectiveMaxRelativePositions;
        long span;
        Tensor relative;
        if (_config.ModelType == DebertaModelType.Deberta)
        {
            span = Math.Min(Math.Max(queryLength, keyLength), maxRel);
            table = table.narrow(0, maxRel - span, 2 * span);
            relative = RelativePositions.Build(queryLength, keyLength, -1, -1, device);
        }
        else
        {
            span = _config.PositionEmbeddingSpan;
            relative = RelativePositions.Build(queryLength, keyLength, _config.PositionBuckets, maxRel, device);
        }
        if (LayerNorm is not null) table = LayerNorm.forward(table);
        var index = RelativePositions.ToTableIndex(relative, span);
        var context = new RelativeContext(table.MoveToOuterDisposeScope(), index.MoveToOuterDisposeScope(), span);
        return context;
    }

    /// <summary>
    /// Runs the stack over the embedding output <paramref name="hidden"/> [B, L, H] with padding mask
    /// <paramref name="attentionMask"/> [B, L]. Returns the last hidden state and, on request, every hidden state
    /// (index 0 = encoder input) and every layer's attention probabilities.
    /// </summary>
    public (Tensor Last, List<Tensor>? All, List<Tensor>? Attentions) Forward(Tensor hidden, Tensor attentionMask,
        bool outputHiddenStates = false, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        var keep = PairMask(attentionMask);
        var inputMask = attentionMask.dim() == 2 ? attentionMask : attentionMask.sum(-2).gt(0);
        using var relative = BuildRelativeContext(hidden.shape[1], hidden.shape[1]);
        var all = outputHiddenStates ? new List<Tensor> { hidden } : null;
        var attentions = outputAttentions ? new List<Tensor>() : null;
        var state = hidden;
        for (int i = 0; i < layer.Count; i++)
        {
            var (next, probs) = layer[i].Forward(state, keep, relative, null, outputAttentions);
            if (i == 0 && conv is not null) next = conv.Forward(hidden, next, inputMask);
            state = next;
            all?.Add(state);
            if (probs is not null) attentions!.Add(probs);
        }
        // Move each result out exactly once: all[^1] is state, and a second move would push it past the caller's
        // scope (it then outlived the caller when the caller did not return it). all[0] is the caller's.
        state.MoveToOuterDisposeScope();
        if (all is not null) foreach (var t in all.Skip(1).SkipLast(1)) t.MoveToOuterDisposeScope();
        if (attentions is not null) foreach (var t in attentions) t.MoveToOuterDisposeScope();
        return (state, all, attentions);
    }
}
