using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// Configurations no golden case covers, checked against a naive float64 re-implementation of layer 0's attention
/// written from the semantics in Fixtures/golden/README.txt (loops, no tensor tricks).
/// </summary>
public class ReferenceAttentionTests
{
    public static IEnumerable<object[]> Configs() =>
        from config in ConfigList()
        from mode in new[] { "fast", "reference", "chunked" }
        select config.Append(mode).ToArray();

    private static IEnumerable<object[]> ConfigList() =>
    [
        ["v2 buckets, separate pos projections, clamped", """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":16,"share_att_key":false,"pos_att_type":["c2p","p2c"]}""", 20],
        ["v2 p2c only, shared keys, head size 8 (all-head 16 != hidden 24)", """{"model_type":"deberta-v2","hidden_size":24,"attention_head_size":8,"relative_attention":true,"position_buckets":6,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":"p2c"}""", 12],
        ["v2 c2p only, no buckets, clamped span", """{"model_type":"deberta-v2","relative_attention":true,"max_relative_positions":6,"pos_att_type":["c2p"]}""", 10],
        ["v2 no relative attention (scale still counts pos_att_type)", """{"model_type":"deberta-v2","relative_attention":false,"pos_att_type":["c2p","p2c"]}""", 9],
        ["v1 clamped span", """{"model_type":"deberta","relative_attention":true,"max_relative_positions":4,"pos_att_type":["c2p","p2c"],"position_biased_input":false}""", 9],
        ["v1 p2c only, absolute positions", """{"model_type":"deberta","relative_attention":true,"max_relative_positions":-1,"max_position_embeddings":32,"pos_att_type":"p2c","position_biased_input":true}""", 7],
    ];

    [Theory]
    [MemberData(nameof(Configs))]
    public void LayerZeroAttentionMatchesNaiveReference(string description, string json, int length, string mode)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        foreach (var (k, v) in new (string, System.Text.Json.Nodes.JsonNode)[] { ("vocab_size", 50), ("hidden_size", 32), ("num_hidden_layers", 1), ("num_attention_heads", 2), ("intermediate_size", 16) })
            if (!node.ContainsKey(k)) node[k] = v;
        var config = DebertaConfig.Parse(node.ToJsonString(), description);
        manual_seed(7);
        using var model = new DebertaModel(config);
        model.eval();
        model.AttentionOptions = FastAttentionTests.Options(mode);
        using (no_grad())
            foreach (var p in model.parameters()) p.normal_(0, 0.3);   // far from uniform attention

        var ids = randint(1, 50, [2, length], dtype: ScalarType.Int64);
        var mask = ones(2, length, dtype: ScalarType.Int64);
        mask[1, TensorIndex.Slice(length - 3)] = 0;
        using var _ = no_grad();
        using var output = model.Forward(ids, mask, outputHiddenStates: true, outputAttentions: true);
        var expected = NaiveAttention(config, model.state_dict(), output.HiddenStates![0], mask);
        var actual = output.Attentions![0].to(ScalarType.Float64);
        double maxDiff = (actual - expected).abs().max().item<double>();
        Assert.True(maxDiff < 1e-5, $"{description} ({mode}): max|Δ| {maxDiff:E3}");
    }

    /// <summary>Attention probabilities [B, heads, L, L] of layer 0, one (b, h, i, j) at a time, in float64.</summary>
    private static Tensor NaiveAttention(DebertaConfig c, Dictionary<string, Tensor> w, Tensor hiddenTensor, Tensor maskTensor)
    {
        bool v1 = c.ModelType == DebertaModelType.Deberta;
        int heads = c.NumAttentionHeads, d = c.HeadSize, all = heads * d;
        long B = hiddenTensor.shape[0], L = hiddenTensor.shape[1];
        double[,] Mat(Tensor t) { var a = t.to(ScalarType.Float64).contiguous(); var data = a.data<double>().ToArray(); var r = new double[a.shape[0], a.shape[1]]; Buffer.BlockCopy(data, 0, r, 0, data.Length * 8); return r; }
        double[] Vec(string key) => w[key].to(ScalarType.Float64).data<double>().ToArray();
        const string p = "encoder.layer.0.attention.self.";

        // Projection matrices [all, hidden] and biases [all].
        double[,] Wq, Wk; double[]? bq, bk;
        if (v1)
        {
            var inProj = Mat(w[p + "in_proj.weight"]);        // rows: per head [q(d) | k(d) | v(d)]
            Wq = new double[all, c.HiddenSize]; Wk = new double[all, c.HiddenSize];
            for (int h = 0; h < heads; h++)
                for (int r = 0; r < d; r++)
                    for (int col = 0; col < c.HiddenSize; col++)
                    {
                        Wq[h * d + r, col] = inProj[h * 3 * d + r, col];
                        Wk[h * d + r, col] = inProj[h * 3 * d + d + r, col];
                    }
            bq = Vec(p + "q_bias"); bk = null;
        }
        else
        {
            Wq = Mat(w[p + "query_proj.weight"]); bq = Vec(p + "query_proj.bias");
            Wk = Mat(w[p + "key_proj.weight"]); bk = Vec(p + "key_proj.bias");
        }
        var x = hiddenTensor.to(ScalarType.Float64);
        double[] Project(double[,] W, double[]? bias, double[] row)
        {
            var o = new double[W.GetLength(0)];
            for (int r = 0; r < o.Length; r++) { double s = bias?[r] ?? 0; for (int k = 0; k < row.Length; k++) s += W[r, k] * row[k]; o[r] = s; }
            return o;
        }
        double[] Row(Tensor t, long b, long i) => t[b, i].data<double>().ToArray();

        // Relative table rows in use and their projections.
        bool c2p = c.RelativeAttention && c.UsesC2P, p2c = c.RelativeAttention && c.UsesP2C;
        int maxRel = c.EffectiveMaxRelativePositions;
        long span = v1 ? Math.Min(L, maxRel) : c.PositionEmbeddingSpan;
        double[][] Kr = [], Qr = [];
        if (c.RelativeAttention)
        {
            var table = w["encoder.rel_embeddings.weight"].to(ScalarType.Float64);
            if (v1) table = table.narrow(0, maxRel - span, 2 * span);
            if (!v1 && c.NormalizesRelativeEmbeddings)
                table = nn.functional.layer_norm(table, [c.HiddenSize], w["encoder.LayerNorm.weight"].to(ScalarType.Float64), w["encoder.LayerNorm.bias"].to(ScalarType.Float64), c.LayerNormEps);
            var rows = Enumerable.Range(0, (int)(2 * span)).Select(r => table[r].data<double>().ToArray()).ToArray();
            if (c2p)
            {
                var (W, b) = v1 ? (Mat(w[p + "pos_proj.weight"]), (double[]?)null)
                    : c.ShareAttKey ? (Wk, bk) : (Mat(w[p + "pos_key_proj.weight"]), Vec(p + "pos_key_proj.bias"));
                Kr = rows.Select(r => Project(W, b, r)).ToArray();
            }
            if (p2c)
            {
                var (W, b) = v1 ? (Mat(w[p + "pos_q_proj.weight"]), Vec(p + "pos_q_proj.bias"))
                    : c.ShareAttKey ? (Wq, bq) : (Mat(w[p + "pos_query_proj.weight"]), Vec(p + "pos_query_proj.bias"));
                Qr = rows.Select(r => Project(W, b, r)).ToArray();
            }
        }
        double scale = Math.Sqrt(d * (1.0 + (c.UsesC2P ? 1 : 0) + (c.UsesP2C ? 1 : 0)));
        // HF's make_log_bucket_position written out in double, independent of the library (LogBucketTableTests checks
        // the library's against hand-worked values).
        static long NaiveLogBucket(long r, int buckets, int maxRelative)
        {
            int mid = buckets / 2;
            if (Math.Abs(r) <= mid) return r;
            double bucket = Math.Ceiling(Math.Log(Math.Abs(r) / (double)mid) / Math.Log((maxRelative - 1) / (double)mid) * (mid - 1)) + mid;
            return (long)bucket * Math.Sign(r);
        }
        long Index(long i, long j)
        {
            long r = i - j;
            long bucket = !v1 && c.PositionBuckets > 0 ? NaiveLogBucket(r, c.PositionBuckets, maxRel) : r;
            return Math.Clamp(bucket + span, 0, 2 * span - 1);
        }

        var mask = maskTensor.data<long>().ToArray();
        var probs = new double[B * heads * L * L];
        for (long b = 0; b < B; b++)
        {
            var q = Enumerable.Range(0, (int)L).Select(i => Project(Wq, bq, Row(x, b, i))).ToArray();
            var k = Enumerable.Range(0, (int)L).Select(i => Project(Wk, bk, Row(x, b, i))).ToArray();
            for (int h = 0; h < heads; h++)
                for (long i = 0; i < L; i++)
                {
                    if (mask[b * L + i] == 0) continue;                  // padded query rows stay 0
                    var scores = new double[L];
                    double max = double.NegativeInfinity;
                    for (long j = 0; j < L; j++)
                    {
                        if (mask[b * L + j] == 0) { scores[j] = double.NegativeInfinity; continue; }
                        double s = 0;
                        for (int e = 0; e < d; e++)
                        {
                            int col = h * d + e;
                            s += q[i][col] * k[j][col];
                            if (c2p) s += q[i][col] * Kr[Index(i, j)][col];
                            if (p2c) s += k[j][col] * Qr[Index(i, j)][col];
                        }
                        scores[j] = s / scale;
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = scores.Sum(s => Math.Exp(s - max));
                    for (long j = 0; j < L; j++)
                        probs[((b * heads + h) * L + i) * L + j] = Math.Exp(scores[j] - max) / sum;
                }
        }
        return tensor(probs, dtype: ScalarType.Float64).reshape(B, heads, L, L);
    }
}
