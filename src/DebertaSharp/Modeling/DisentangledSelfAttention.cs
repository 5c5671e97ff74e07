using DebertaSharp.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Disentangled self-attention (paper §3.1, Eq. 2–4): content-to-content, content-to-position and
/// position-to-content scores over relative positions, all divided by √(d·(1 + #terms)).
/// One implementation for both generations, options read once from the config:
/// v1 (<c>deberta</c>) uses a fused <c>in_proj</c> with <c>q_bias</c>/<c>v_bias</c>, <c>pos_proj</c> (c2p, no bias),
/// <c>pos_q_proj</c> (p2c) and optional talking heads; v2/v3 uses <c>query_proj</c>/<c>key_proj</c>/<c>value_proj</c>
/// and either shares them with the positions (<c>share_att_key</c>) or has <c>pos_key_proj</c>/<c>pos_query_proj</c>.
/// Two algorithms (<see cref="AttentionImplementation"/>): HF's reference and the fast one, which scores only the
/// relative rows in use and adds the position bias inside the q·kᵀ product (<c>baddbmm</c>; <c>scaled_dot_product_attention</c>
/// on CUDA or on request). In inference passes the projections of the relative table are kept between passes.
/// The scale is divided into q (and Qr) before any product, so that half precision does not overflow (HF PR #24116).
/// HF keys: <c>attention.self.*</c>.
/// </summary>
public sealed class DisentangledSelfAttention : nn.Module
{
    // v1
    private readonly Linear? in_proj;
    private readonly Parameter? q_bias;
    private readonly Parameter? v_bias;
    private readonly Linear? pos_proj;
    private readonly Linear? pos_q_proj;
    private readonly Linear? head_logits_proj;
    private readonly Linear? head_weights_proj;
    // v2 / v3 (typed as modules so that an adapter such as LoRA can stand in for the Linear under the same name)
    private readonly nn.Module<Tensor, Tensor>? query_proj;
    private readonly nn.Module<Tensor, Tensor>? key_proj;
    private readonly nn.Module<Tensor, Tensor>? value_proj;
    private readonly Linear? pos_key_proj;
    private readonly Linear? pos_query_proj;
    private readonly Dropout pos_dropout;
    private readonly Dropout dropout;

    private readonly bool _v1;
    private readonly bool _relative;
    private readonly bool _c2p;
    private readonly bool _p2c;
    private readonly int _heads;
    private readonly int _headSize;
    private readonly double _scale;
    private readonly double _dropoutProbability;
    // Kr and Qr/scale of the whole relative table, kept between inference passes (ORT folds them at load).
    private readonly InferenceCache _positionProjections = new();

    /// <summary>Builds the attention of one layer.</summary>
    public DisentangledSelfAttention(DebertaConfig config) : base("self")
    {
        _v1 = config.ModelType == DebertaModelType.Deberta;
        _relative = config.RelativeAttention;
        _c2p = config.UsesC2P;
        _p2c = config.UsesP2C;
        _heads = config.NumAttentionHeads;
        _headSize = config.HeadSize;
        _dropoutProbability = config.AttentionProbsDropoutProb;
        int all = _heads * _headSize;
        int hidden = config.HiddenSize;
        // Every term is divided by √(d·scale_factor), scale_factor = 1 + [c2p] + [p2c] (HF; independent of relative_attention).
        _scale = Math.Sqrt(_headSize * (1.0 + (_c2p ? 1 : 0) + (_p2c ? 1 : 0)));

        if (_v1)
        {
            in_proj = nn.Linear(hidden, all * 3, hasBias: false);
            q_bias = new Parameter(zeros(all));
            v_bias = new Parameter(zeros(all));
            if (config.TalkingHead)
            {
                head_logits_proj = nn.Linear(_heads, _heads, hasBias: false);
                head_weights_proj = nn.Linear(_heads, _heads, hasBias: false);
            }
            if (_relative && _c2p) pos_proj = nn.Linear(hidden, all, hasBias: false);
            if (_relative && _p2c) pos_q_proj = nn.Linear(hidden, all);
        }
        else
        {
            query_proj = nn.Linear(hidden, all);
            key_proj = nn.Linear(hidden, all);
            value_proj = nn.Linear(hidden, all);
            if (_relative && !config.ShareAttKey)
            {
                if (_c2p) pos_key_proj = nn.Linear(hidden, all);
                if (_p2c) pos_query_proj = nn.Linear(hidden, all);
            }
        }
        pos_dropout = nn.Dropout(config.HiddenDropoutProb);
        dropout = nn.Dropout(config.AttentionProbsDropoutProb);
        RegisterComponents();
    }

    /// <summary>
    /// Attends from <paramref name="queryStates"/> (or <paramref name="hidden"/>) [B, Lq, H] over <paramref name="hidden"/> [B, Lk, H].
    /// Returns the context [B, Lq, heads·d] and, when <paramref name="outputAttentions"/>, the probabilities [B, heads, Lq, Lk].
    /// </summary>
    public (Tensor Context, Tensor? Probabilities) Forward(Tensor hidden, AttentionContext context,
        Tensor? queryStates = null, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Project(hidden, queryStates);                // each [B, heads, L, d]
        // Head-major and contiguous once, the scale folded into q: every product below reads q, k, v as [B·heads, L, d]
        // matrices, and a permuted view was copied by each reshape or matmul that read it (q twice, k once per chunk).
        q = q.contiguous() / _scale;
        k = k.contiguous();
        v = v.contiguous();
        ForwardProfile.Mark("q, k, v projections");
        var relative = _relative ? context.Relative : null;
        var (attended, probs) = context.Path switch
        {
            AttentionPath.Reference => ReferenceAttention(q, k, v, context, relative),
            AttentionPath.Chunked => ChunkedAttention(q, k, v, context, relative, outputAttentions),
            _ => FastAttention(q, k, v, context, relative, outputAttentions),
        };

        long b = attended.shape[0], lq = attended.shape[2];
        var result = attended.permute(0, 2, 1, 3).reshape(b, lq, _heads * _headSize);   // [B, Lq, heads·d]
        ForwardProfile.Mark("merge heads");
        result.MoveToOuterDisposeScope();
        if (outputAttentions) probs!.MoveToOuterDisposeScope();
        return (result, outputAttentions ? probs : null);
    }

    private (Tensor Q, Tensor K, Tensor V) Project(Tensor hidden, Tensor? queryStates)
    {
        if (_v1)
        {
            // in_proj rows are [q|k|v] interleaved head by head: view its output as [B, L, heads, 3, d].
            Tensor q, k, v;
            if (queryStates is null)
            {
                var qkv = Dense.Forward(in_proj!, hidden).view(hidden.shape[0], hidden.shape[1], _heads, 3, _headSize);
                q = qkv.select(3, 0).permute(0, 2, 1, 3);
                k = qkv.select(3, 1).permute(0, 2, 1, 3);
                v = qkv.select(3, 2).permute(0, 2, 1, 3);
            }
            else
            {
                var weight = in_proj!.weight!.view(_heads, 3, _headSize, -1);   // [heads, q|k|v, d, hidden]
                q = SplitHeads(nn.functional.linear(queryStates, weight.select(1, 0).reshape(_heads * _headSize, -1)));
                k = SplitHeads(nn.functional.linear(hidden, weight.select(1, 1).reshape(_heads * _headSize, -1)));
                v = SplitHeads(nn.functional.linear(hidden, weight.select(1, 2).reshape(_heads * _headSize, -1)));
            }
            q = q + q_bias!.view(1, _heads, 1, _headSize);
            v = v + v_bias!.view(1, _heads, 1, _headSize);
            return (q, k, v);
        }
        return (SplitHeads(Dense.Forward(query_proj!, queryStates ?? hidden)),
                SplitHeads(Dense.Forward(key_proj!, hidden)),
                SplitHeads(Dense.Forward(value_proj!, hidden)));
    }

    /// <summary>[B, L, heads·d] → [B, heads, L, d].</summary>
    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, _headSize).permute(0, 2, 1, 3);

    /// <summary>[R, heads·d] → [heads, R, d] for the relative-embedding rows.</summary>
    private Tensor SplitHeadsRows(Tensor x) => x.view(x.shape[0], _heads, _headSize).permute(1, 0, 2);

    /// <summary>Kr = key-side projection of the relative rows, [heads, R, d].</summary>
    private Tensor PositionKeys(Tensor rows) => SplitHeadsRows(Dense.Forward(_v1 ? pos_proj! : pos_key_proj ?? key_proj!, rows));

    /// <summary>Qr / scale = query-side projection of the relative rows, scaled, [heads, R, d].</summary>
    private Tensor PositionQueries(Tensor rows) => SplitHeadsRows(Dense.Forward(_v1 ? pos_q_proj! : pos_query_proj ?? query_proj!, rows)) / _scale;

    private bool DropoutActive => training && _dropoutProbability > 0;

    /// <summary>
    /// Kr [heads, R, d] (c2p) and Qr / scale [heads, R, d] (p2c) of the relative rows in use, null where the term is
    /// off. In inference passes (<see cref="RelativeContext.CachesProjections"/>) they are slices of this layer's kept
    /// projections of the whole table, rebuilt when the fingerprint of the table's and the projections' parameters
    /// changes; otherwise projected now (with position dropout in training).
    /// </summary>
    private (Tensor? Keys, Tensor? Queries) RowProjections(RelativeContext relative)
    {
        long first = relative.FirstRow, count = relative.Embeddings.shape[0];
        if (relative.CachesProjections)
        {
            var keyProj = _c2p ? (_v1 ? pos_proj! : pos_key_proj ?? key_proj!) : null;
            var queryProj = _p2c ? (_v1 ? pos_q_proj! : pos_query_proj ?? query_proj!) : null;
            Tensor[] projections = [.. keyProj?.parameters() ?? [], .. queryProj?.parameters() ?? []];   // every parameter: a LoRA wrapper's too
            var table = relative.Table!;                                                     // [2·span, H]
            var kept = _positionProjections.GetOrBuild(
                () => cat([relative.TableFingerprint ?? InferenceCache.Fingerprint(relative.TableSources!), InferenceCache.Fingerprint(projections)], 0),
                () => [_c2p ? PositionKeys(table).contiguous() : empty(0), _p2c ? PositionQueries(table).contiguous() : empty(0)],
                FrozenWeights.Generation([.. relative.TableSources!, .. projections]));
            return (_c2p ? kept[0].narrow(1, first, count) : null, _p2c ? kept[1].narrow(1, first, count) : null);
        }
        _positionProjections.Clear();                                                        // training or autograd: drop what was kept
        var rows = pos_dropout.forward(relative.Embeddings);                                 // [R, H]
        return (_c2p ? PositionKeys(rows) : null, _p2c ? PositionQueries(rows) : null);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _positionProjections.Dispose();
        base.Dispose(disposing);
    }

    // ---------------------------------------------------------------- reference (HF, step by step)

    private (Tensor Context, Tensor Probabilities) ReferenceAttention(Tensor q, Tensor k, Tensor v, AttentionContext context, RelativeContext? relative)
    {
        var scores = q.matmul(k.transpose(-1, -2));                  // [B, heads, Lq, Lk]
        if (relative is not null && (_c2p || _p2c))
            scores = scores + ReferencePositionScores(q, k, relative);
        if (head_logits_proj is not null)
            scores = head_logits_proj.forward(scores.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);

        // XSoftmax (transformers 4.44): masked scores -> dtype min, softmax, masked entries -> 0 (padded query rows all zero).
        var drop = context.PairMask!.logical_not();
        var probs = scores.masked_fill(drop, finfo(scores.dtype).min).softmax(-1).masked_fill(drop, 0);
        probs = dropout.forward(probs);
        if (head_weights_proj is not null)
            probs = head_weights_proj.forward(probs.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
        return (probs.matmul(v), probs);                             // [B, heads, Lq, d]
    }

    /// <summary>c2p + p2c for already scaled <paramref name="q"/>, gathered from the whole table: c2p[i,j] = q_i·Kr[idx(i,j)], p2c[i,j] = k_j·Qr[idx(i,j)]/scale.</summary>
    private Tensor ReferencePositionScores(Tensor q, Tensor k, RelativeContext relative)
    {
        var rel = pos_dropout.forward(relative.Embeddings);          // [2s, H]
        long b = q.shape[0], lq = q.shape[2], lk = k.shape[2];
        Tensor? score = null;
        if (_c2p)
        {
            var c2p = q.matmul(PositionKeys(rel).transpose(-1, -2));                                        // [B, heads, Lq, 2s]
            score = c2p.gather(-1, relative.Index!.expand(b, _heads, lq, lk));                             // [B, heads, Lq, Lk]
        }
        if (_p2c)
        {
            var p2c = k.matmul(PositionQueries(rel).transpose(-1, -2));                                     // [B, heads, Lk, 2s]
            p2c = p2c.gather(-1, relative.Index!.t().expand(b, _heads, lk, lq)).transpose(-1, -2);         // [B, heads, Lq, Lk]
            score = score is null ? p2c : score + p2c;
        }
        return score!;
    }

    // ---------------------------------------------------------------- fast

    /// <summary>
    /// The c2p + p2c bias [B, heads, Lq, Lk] over the rows in use, for scaled <paramref name="q"/>; <c>null</c> without
    /// position terms. On the shifted path, q and k are scored against one row per distance; on the gathered one,
    /// against the rows in use. In float32 CPU inference <see cref="PositionBiasKernel"/> turns the scores into the bias
    /// in one pass; otherwise libtorch does: shifted scores become pairs by a view (the key-major p2c, read
    /// contiguously, is transposed tile by tile: a strided transposed read of [L, L] misses the cache at L = 512),
    /// gathered ones go through the pair index (p2c from the flattened key-by-row scores, straight into query-major order).
    /// </summary>
    private Tensor? PositionBias(Tensor q, Tensor k, RelativeContext? relative, bool shifted)
    {
        if (relative is null || !(_c2p || _p2c)) return null;
        var (keys, queries) = RowProjections(relative);                                      // [heads, R, d] each
        ForwardProfile.Mark("relative-row projections");
        long b = q.shape[0], lq = q.shape[2], lk = k.shape[2];
        // Shifted: c2p columns by descending distance r = Lq−1 … −(Lk−1), p2c columns by ascending distance −(Lk−1) … Lq−1.
        var c2pScores = keys is null ? null
            : ScoresAgainst(q, shifted ? keys.index_select(1, relative.DistanceIndex!.flip(0)) : keys);         // [B, heads, Lq, W or R]
        ForwardProfile.Mark("c2p scores");
        var p2cScores = queries is null ? null
            : ScoresAgainst(k, shifted ? queries.index_select(1, relative.DistanceIndex!) : queries);           // [B, heads, Lk, W or R]
        ForwardProfile.Mark("p2c scores");
        Tensor bias;
        if (PositionBiasKernel.Applies(c2pScores, p2cScores, b * _heads * lq * lk))
        {
            bias = shifted
                ? PositionBiasKernel.Shifted(c2pScores, p2cScores, lq, lk)
                : PositionBiasKernel.Gathered(c2pScores, p2cScores, relative.DistanceRows, 0, lq, lk);
        }
        else
        {
            // c2p[i, j] = byDistance[i, j − i + Lq − 1]; p2c[j, i] = byDistance[j, i − j + Lk − 1] (key-major).
            var c2p = c2pScores is null ? null
                : shifted ? RelativePositions.ShiftToPairs(c2pScores, lk)                                        // [B, heads, Lq, Lk] view
                : c2pScores.gather(-1, relative.Index!.expand(b, _heads, lq, lk));                                 // [B, heads, Lq, Lk]
            // p2c[i, j] = byRow[j, index[i, j]], gathered from the flattened scores straight into query-major order
            // (a key-major gather and a tiled transpose took ~1.4× as long at 1×512).
            var p2c = p2cScores is null ? null
                : shifted ? TensorOps.TransposeLastTwo(RelativePositions.ShiftToPairs(p2cScores, lq))             // [B, heads, Lq, Lk], contiguous
                : p2cScores.view(b, _heads, -1).gather(-1, relative.IndexByKey!.expand(b, _heads, lq * lk)).view(b, _heads, lq, lk);
            bias = p2c is null ? c2p!.contiguous() : c2p is null ? p2c : p2c.add_(c2p);
        }
        ForwardProfile.Mark("c2p, p2c into pairs, sum");
        return bias;
    }

    /// <summary>
    /// Scores of <paramref name="x"/> [B, heads, L, d] against per-head rows <paramref name="rows"/> [heads, R, d]:
    /// [B, heads, L, R], through <see cref="AttentionProducts"/> where it applies.
    /// </summary>
    private static Tensor ScoresAgainst(Tensor x, Tensor rows)
    {
        long b = x.shape[0], heads = x.shape[1], l = x.shape[2], d = x.shape[3];
        var x3 = x.reshape(b * heads, l, d);
        var r3 = rows.contiguous();
        return AttentionProducts.Applies(x3, r3)
            ? AttentionProducts.TimesTransposed(x3, r3).view(b, heads, l, rows.shape[1])
            : x.matmul(rows.transpose(-1, -2));
    }

    private (Tensor Context, Tensor? Probabilities) FastAttention(Tensor q, Tensor k, Tensor v, AttentionContext context,
        RelativeContext? relative, bool outputAttentions)
    {
        var bias = PositionBias(q, k, relative, context.Path == AttentionPath.Shifted);   // [B, heads, Lq, Lk] or null
        return Attend(q, k, v, bias, context.AdditiveMask, context.QueryRowMask, outputAttentions, context.Options, null);
    }

    /// <summary>
    /// softmax(q·kᵀ + bias + mask)·v for scaled <paramref name="q"/>, with fully masked query rows zeroed: through
    /// <c>scaled_dot_product_attention</c> where <see cref="AttentionOptions.UseScaledDotProductAttention"/> says so
    /// and no probabilities are needed (returned, talking heads, dropout), otherwise with the bias added inside the
    /// batched product (<c>baddbmm</c>). <paramref name="panels"/>: k and v packed once for the managed products by
    /// <see cref="PackKeysAndValues"/> (the chunked path's chunks share them), or null.
    /// </summary>
    private (Tensor Context, Tensor? Probabilities) Attend(Tensor q, Tensor k, Tensor v, Tensor? bias, Tensor? additive,
        Tensor? rows, bool outputAttentions, AttentionOptions options, (Tensor Keys, Tensor Values)? panels)
    {
        if (UsesScaledDotProductAttention(q, outputAttentions, options))
        {
            var mask = bias is null ? additive : additive is null ? bias : bias.add_(additive);
            // SDPA divides by √d itself (it has no scale argument): hand it q·√d so that q is divided by √(d·sf) once.
            var attended = nn.functional.scaled_dot_product_attention(q * Math.Sqrt(_headSize), k, v, mask);   // [B, heads, Lq, d]
            return (rows is null ? attended : attended * rows, null);   // not in place: SDPA's backward keeps its output
        }
        long b = q.shape[0], lq = q.shape[2], lk = k.shape[2];
        var q3 = q.reshape(b * _heads, lq, _headSize);                                   // [B·heads, Lq, d]
        var bias3 = bias?.reshape(b * _heads, lq, lk);
        var k3 = k.reshape(b * _heads, lk, _headSize);
        var scores = (AttentionProducts.Applies(q3, k3, bias3)
                ? panels is { } packed ? AttentionProducts.TimesTransposed(q3, packed.Keys, lk, bias3) : AttentionProducts.TimesTransposed(q3, k3, bias3)
                : bias3 is null ? q3.bmm(k3.transpose(1, 2)) : TensorOps.AddBatchedProduct(bias3, q3, k3.transpose(1, 2)))
            .view(b, _heads, lq, lk);                                                     // [B, heads, Lq, Lk]
        ForwardProfile.Mark("q·kᵀ + bias");
        if (head_logits_proj is not null)
            scores = head_logits_proj.forward(scores.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
        if (additive is not null) scores = scores.add(additive);
        var probs = scores.softmax(-1);
        if (rows is not null) probs = probs * rows;                   // masked query rows all zero, as XSoftmax (softmax's backward keeps its output)
        probs = dropout.forward(probs);
        if (head_weights_proj is not null)
            probs = head_weights_proj.forward(probs.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
        ForwardProfile.Mark("mask + softmax");
        var probs3 = probs.reshape(b * _heads, lq, lk);
        var v3 = v.reshape(b * _heads, lk, _headSize);
        var attendedValues = AttentionProducts.Applies(probs3, v3)
            ? (panels is { } packedValues ? AttentionProducts.Times(probs3, packedValues.Values, _headSize) : AttentionProducts.Times(probs3, v3))
                .view(b, _heads, lq, _headSize)
            : probs.matmul(v);                                                            // [B, heads, Lq, d]
        ForwardProfile.Mark("probabilities · v");
        return (attendedValues, probs);
    }

    private bool UsesScaledDotProductAttention(Tensor q, bool outputAttentions, AttentionOptions options) =>
        (options.UseScaledDotProductAttention ?? q.device_type == DeviceType.CUDA)
        && !outputAttentions && head_logits_proj is null && !DropoutActive;

    /// <summary>
    /// k as [B·heads, Lk, d] packed for q·kᵀ and v for probabilities·v, once for every query chunk (each chunk packed
    /// its own copy of both before: 2 × 6 MB a chunk at 1×2048 for v3-base), or null where <see cref="Attend"/> does not
    /// take the managed products.
    /// </summary>
    private (Tensor Keys, Tensor Values)? PackKeysAndValues(Tensor q, Tensor k, Tensor v, bool outputAttentions, AttentionOptions options)
    {
        if (UsesScaledDotProductAttention(q, outputAttentions, options)) return null;
        long b = k.shape[0], lk = k.shape[2];
        using var k3 = k.reshape(b * _heads, lk, _headSize);
        using var v3 = v.reshape(b * _heads, lk, _headSize);
        if (!AttentionProducts.Applies(k3, v3)) return null;
        return (AttentionProducts.PackTransposed(k3), AttentionProducts.PackColumns(v3));
    }

    /// <summary>
    /// The fast path over chunks of query rows: the scores against the rows in use are computed once
    /// ([B, heads, L, R], linear in L), then each chunk gathers its [B, heads, chunk, Lk] bias and attends.
    /// </summary>
    private (Tensor Context, Tensor? Probabilities) ChunkedAttention(Tensor q, Tensor k, Tensor v, AttentionContext context,
        RelativeContext? relative, bool outputAttentions)
    {
        long b = q.shape[0], lq = q.shape[2], lk = k.shape[2];
        Tensor? byRowC2P = null, byRowP2C = null;
        if (relative is not null && (_c2p || _p2c))
        {
            var (keys, queries) = RowProjections(relative);          // [heads, R, d] each
            ForwardProfile.Mark("relative-row projections");
            if (keys is not null) byRowC2P = ScoresAgainst(q, keys);          // [B, heads, Lq, R]
            if (queries is not null) byRowP2C = ScoresAgainst(k, queries);    // [B, heads, Lk, R]
            ForwardProfile.Mark("c2p, p2c scores by row (chunked)");
        }
        var additive = context.AdditiveMask;
        var rowMask = context.QueryRowMask;
        int chunk = context.Options.QueryChunkSize;
        var outputs = new List<Tensor>();
        var probabilities = outputAttentions ? new List<Tensor>() : null;
        var panels = PackKeysAndValues(q, k, v, outputAttentions, context.Options);
        for (long start = 0; start < lq; start += chunk)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(chunk, lq - start);
            Tensor? bias = null;
            if (PositionBiasKernel.Applies(byRowC2P, byRowP2C, b * _heads * n * lk))
            {
                bias = PositionBiasKernel.Gathered(byRowC2P, byRowP2C, relative!.DistanceRows, start, n, lk);
                ForwardProfile.Mark("c2p, p2c gathers (chunked)");
            }
            else if (byRowC2P is not null || byRowP2C is not null)
            {
                var index = relative!.PairIndex(start, n);                                                // [n, Lk]
                if (byRowC2P is not null)
                    bias = byRowC2P.narrow(2, start, n).gather(-1, index.expand(b, _heads, n, lk));         // [B, heads, n, Lk]
                if (byRowP2C is not null)
                {
                    // Gathered from the flattened scores straight into query-major order (as PositionBias does).
                    var flat = RelativeContext.KeyRowIndex(index, byRowP2C.shape[3]);                            // [1, 1, n·Lk]
                    var p2c = byRowP2C.view(b, _heads, -1).gather(-1, flat.expand(b, _heads, n * lk)).view(b, _heads, n, lk);
                    bias = bias is null ? p2c : bias.add_(p2c);
                }
                ForwardProfile.Mark("c2p, p2c gathers (chunked)");
            }
            var chunkAdditive = additive is null || additive.shape[2] == 1 ? additive : additive.narrow(2, start, n);
            var chunkRows = rowMask?.narrow(2, start, n);
            var (attended, probs) = Attend(q.narrow(2, start, n), k, v, bias, chunkAdditive, chunkRows, outputAttentions, context.Options, panels);
            outputs.Add(attended.MoveToOuterDisposeScope());
            if (probs is not null && probabilities is not null) probabilities.Add(probs.MoveToOuterDisposeScope());
        }
        panels?.Keys.Dispose();
        panels?.Values.Dispose();
        var attendedAll = outputs.Count == 1 ? outputs[0] : cat(outputs, 2);                                  // [B, heads, Lq, d]
        var allProbs = probabilities is null ? null : probabilities.Count == 1 ? probabilities[0] : cat(probabilities, 2);
        return (attendedAll, allProbs);
    }
}
