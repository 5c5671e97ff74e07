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
    private AttentionOptions _options = new();

    /// <summary>Builds the encoder.</summary>
    public DebertaEncoder(DebertaConfig config) : base("encoder")
    {
        NativeHeap.EnsureConfigured();                   // every model has one encoder: the first model reads the heap policy here
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

    /// <summary>How attention is computed (not saved with the checkpoint). Validated when set.</summary>
    public AttentionOptions Options
    {
        get => _options;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            _options = value;
        }
    }

    /// <summary>
    /// Everything the layers' attention shares for <paramref name="queryLength"/> × <paramref name="keyLength"/>:
    /// the mask from a [B, L] padding mask or a [B, Lq, Lk] pair mask (nonzero = attend; a padded query row is fully
    /// masked) in the forms <see cref="Options"/> needs, in <paramref name="dtype"/>, and the relative positions.
    /// </summary>
    public AttentionContext BuildAttentionContext(Tensor attentionMask, long queryLength, long keyLength, ScalarType dtype)
    {
        var relative = BuildRelativeContext(queryLength, keyLength);
        ForwardProfile.Mark("relative context");
        try
        {
            var path = relative?.Layout ?? AttentionPlan.Choose(_options, queryLength, keyLength, 0, _config.HeadSize);
            var context = AttentionContext.Build(_options, path, attentionMask, dtype, relative, queryLength, keyLength);
            ForwardProfile.Mark("attention masks");
            return context;
        }
        catch
        {
            relative?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Relative embeddings and how (query, key) pairs find their rows, for <paramref name="queryLength"/> ×
    /// <paramref name="keyLength"/>, or <c>null</c> without relative attention. v1 uses rows [max_rel − span, max_rel + span)
    /// with span = min(max(Lq, Lk), max_rel); v2 uses the whole table (span = buckets or max_rel) and log buckets.
    /// The reference implementation gets the whole (normalised) table and the [Lq, Lk] index; the fast one only the
    /// rows that some pair reaches (2L − 1 when every distance below the span has its own row) and the row of each
    /// distance, laid out for the path <see cref="AttentionPlan.Choose"/> picks. In inference passes (eval mode, no
    /// autograd) the context also carries the whole normalised table, which layers project once and keep.
    /// </summary>
    public RelativeContext? BuildRelativeContext(long queryLength, long keyLength)
    {
        if (rel_embeddings is null) return null;
        using var scope = NewDisposeScope();
        Tensor weight = rel_embeddings.weight!;
        var device = weight.device;
        int maxRel = _config.EffectiveMaxRelativePositions;
        bool v1 = _config.ModelType == DebertaModelType.Deberta;
        long span = v1 ? Math.Min(Math.Max(queryLength, keyLength), maxRel) : _config.PositionEmbeddingSpan;
        long offset = v1 ? maxRel - span : 0;                                                  // first table row of this span
        var table = weight.narrow(0, offset, 2 * span);                                        // [2·span, H], a view
        int buckets = v1 ? -1 : _config.PositionBuckets;
        int maxPosition = v1 ? -1 : maxRel;

        // Distances r = i − j that occur, ascending: −(Lk − 1) … Lq − 1, and the table row of each.
        var distances = arange(-(keyLength - 1), queryLength, dtype: ScalarType.Int64, device: device);
        if (buckets > 0 && maxPosition > 0) distances = RelativePositions.MakeLogBucketPosition(distances, buckets, maxPosition);
        var tableIndex = RelativePositions.ToTableIndex(distances, span);                     // [Lq + Lk − 1], non-decreasing
        long first = tableIndex.min().item<long>(), last = tableIndex.max().item<long>();
        long count = last - first + 1;
        var path = AttentionPlan.Choose(_options, queryLength, keyLength, count, _config.HeadSize);

        if (path == AttentionPath.Reference)
        {
            if (LayerNorm is not null) table = LayerNorm.forward(table);
            var relative = RelativePositions.Build(queryLength, keyLength, buckets, maxPosition, device);
            var index = RelativePositions.ToTableIndex(relative, span);
            return new RelativeContext(path, table.MoveToOuterDisposeScope(), index.MoveToOuterDisposeScope(),
                null, span, queryLength, keyLength);
        }

        Tensor rows;                                                                           // [R, H]
        Tensor? whole = null, fingerprint = null;
        Tensor?[]? sources = null;
        if (InferenceCache.Applies(this))
        {
            whole = LayerNorm is null ? weight.alias() : LayerNorm.forward(weight);            // [2·max span, H]
            rows = whole.narrow(0, offset + first, count);
            // The registered parameters (Embedding.weight wraps the tensor anew on every read; FrozenWeights knows parameters).
            sources = [.. rel_embeddings!.parameters(), .. LayerNorm?.parameters() ?? []];
            // Frozen for inference: the layers trust their kept projections without it (see InferenceCache).
            if (FrozenWeights.Generation(sources) is null) fingerprint = InferenceCache.Fingerprint(sources);
        }
        else
        {
            rows = table.narrow(0, first, count);
            if (LayerNorm is not null) rows = LayerNorm.forward(rows);                         // per row: normalising a slice is exact
        }
        var distanceIndex = tableIndex - first;
        var pairs = path == AttentionPath.Gathered ? RelativeContext.PairIndex(distanceIndex, 0, queryLength, keyLength) : null;
        var pairsByKey = pairs is null ? null : RelativeContext.KeyRowIndex(pairs, count);     // [1, 1, Lq·Lk] for p2c
        return new RelativeContext(path, rows.MoveToOuterDisposeScope(), pairs?.MoveToOuterDisposeScope(),
            distanceIndex.MoveToOuterDisposeScope(), span, queryLength, keyLength, pairsByKey?.MoveToOuterDisposeScope(),
            whole?.MoveToOuterDisposeScope(), offset + first, fingerprint?.MoveToOuterDisposeScope(), sources);
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
        var inputMask = attentionMask.dim() == 2 ? attentionMask : attentionMask.sum(-2).gt(0);
        using var context = BuildAttentionContext(attentionMask, hidden.shape[1], hidden.shape[1], hidden.dtype);
        bool checkpoint = _options.GradientCheckpointing && training && is_grad_enabled();
        var all = outputHiddenStates ? new List<Tensor> { hidden } : null;
        var attentions = outputAttentions ? new List<Tensor>() : null;
        var state = hidden;
        for (int i = 0; i < layer.Count; i++)
        {
            var (next, probs) = checkpoint
                ? LayerCheckpoint.Forward(layer[i], state, context, outputAttentions)
                : layer[i].Forward(state, context, null, outputAttentions);
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
