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
    // v2 / v3
    private readonly Linear? query_proj;
    private readonly Linear? key_proj;
    private readonly Linear? value_proj;
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

    /// <summary>Builds the attention of one layer.</summary>
    public DisentangledSelfAttention(DebertaConfig config) : base("self")
    {
        _v1 = config.ModelType == DebertaModelType.Deberta;
        _relative = config.RelativeAttention;
        _c2p = config.UsesC2P;
        _p2c = config.UsesP2C;
        _heads = config.NumAttentionHeads;
        _headSize = config.HeadSize;
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
    /// <paramref name="keep"/> is the boolean mask [B, 1, Lq, Lk] of allowed (query, key) pairs.
    /// Returns the context [B, Lq, heads·d] and, when <paramref name="outputAttentions"/>, the probabilities [B, heads, Lq, Lk].
    /// </summary>
    public (Tensor Context, Tensor? Probabilities) Forward(Tensor hidden, Tensor keep, RelativeContext? relative,
        Tensor? queryStates = null, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Project(hidden, queryStates);                // each [B, heads, L, d]
        q = q / _scale;                                               // fold the scale into q once
        var scores = q.matmul(k.transpose(-1, -2));                  // [B, heads, Lq, Lk]

        if (_relative && relative is not null)
            scores = scores + PositionScores(q, k, relative);

        if (head_logits_proj is not null)
            scores = head_logits_proj.forward(scores.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);

        // XSoftmax (transformers 4.44): masked scores -> dtype min, softmax, masked entries -> 0 (padded query rows all zero).
        var drop = keep.logical_not();
        var probs = scores.masked_fill(drop, finfo(scores.dtype).min).softmax(-1).masked_fill(drop, 0);
        probs = dropout.forward(probs);
        if (head_weights_proj is not null)
            probs = head_weights_proj.forward(probs.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);

        var context = probs.matmul(v);                               // [B, heads, Lq, d]
        long b = context.shape[0], lq = context.shape[2];
        context = context.permute(0, 2, 1, 3).reshape(b, lq, _heads * _headSize);
        context.MoveToOuterDisposeScope();
        if (outputAttentions) probs.MoveToOuterDisposeScope();
        return (context, outputAttentions ? probs : null);
    }

    private (Tensor Q, Tensor K, Tensor V) Project(Tensor hidden, Tensor? queryStates)
    {
        if (_v1)
        {
            // in_proj rows are [q|k|v] interleaved head by head: view its output as [B, L, heads, 3, d].
            Tensor q, k, v;
            if (queryStates is null)
            {
                var qkv = in_proj!.forward(hidden).view(hidden.shape[0], hidden.shape[1], _heads, 3, _headSize);
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
        return (SplitHeads(query_proj!.forward(queryStates ?? hidden)),
                SplitHeads(key_proj!.forward(hidden)),
                SplitHeads(value_proj!.forward(hidden)));
    }

    /// <summary>[B, L, heads·d] → [B, heads, L, d].</summary>
    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, _headSize).permute(0, 2, 1, 3);

    /// <summary>[R, heads·d] → [heads, R, d] for the relative-embedding rows.</summary>
    private Tensor SplitHeadsRows(Tensor x) => x.view(x.shape[0], _heads, _headSize).permute(1, 0, 2);

    /// <summary>c2p + p2c for already scaled <paramref name="q"/>: c2p[i,j] = q_i·Kr[idx(i,j)], p2c[i,j] = k_j·Qr[idx(i,j)]/scale.</summary>
    private Tensor PositionScores(Tensor q, Tensor k, RelativeContext relative)
    {
        var rel = pos_dropout.forward(relative.Embeddings);          // [2s, H]
        long b = q.shape[0], lq = q.shape[2], lk = k.shape[2];
        Tensor? score = null;
        if (_c2p)
        {
            var posKey = SplitHeadsRows((_v1 ? pos_proj! : pos_key_proj ?? key_proj!).forward(rel));        // [heads, 2s, d]
            var c2p = q.matmul(posKey.transpose(-1, -2));                                                   // [B, heads, Lq, 2s]
            c2p = c2p.gather(-1, relative.Index.expand(b, _heads, lq, lk));                                 // [B, heads, Lq, Lk]
            score = c2p;
        }
        if (_p2c)
        {
            var posQuery = SplitHeadsRows((_v1 ? pos_q_proj! : pos_query_proj ?? query_proj!).forward(rel)) / _scale;
            var p2c = k.matmul(posQuery.transpose(-1, -2));                                                 // [B, heads, Lk, 2s]
            p2c = p2c.gather(-1, relative.Index.t().expand(b, _heads, lk, lq)).transpose(-1, -2);          // [B, heads, Lq, Lk]
            score = score is null ? p2c : score + p2c;
        }
        return score ?? zeros(1, dtype: q.dtype, device: q.device);
    }
}
