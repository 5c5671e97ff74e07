using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// The fast attention (rows in use only, shifted or gathered biases, SDPA, query chunks) against the reference
/// implementation on every configuration variant: outputs, attention probabilities and gradients within 1e-5.
/// </summary>
public class FastAttentionTests
{
    /// <summary>
    /// Options for a test mode: "fast" (never chunked, explicit product on the CPU), "fast-sdpa" (never chunked,
    /// scaled_dot_product_attention), "chunked" (chunks of 3 rows, always), "reference".
    /// </summary>
    public static AttentionOptions Options(string mode) => mode switch
    {
        "fast" => new AttentionOptions { ChunkQueriesAbove = int.MaxValue },
        "fast-sdpa" => new AttentionOptions { ChunkQueriesAbove = int.MaxValue, UseScaledDotProductAttention = true },
        "chunked" => new AttentionOptions { ChunkQueriesAbove = 0, QueryChunkSize = 3 },
        "reference" => new AttentionOptions { Implementation = AttentionImplementation.Reference },
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    internal static IEnumerable<(string Name, string Json, int Length)> Variants() =>
    [
        ("v3 log buckets compressing (gathered)", """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":["p2c","c2p"],"position_biased_input":false}""", 20),
        ("v3 buckets, short input (shifted)", """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":16,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":["p2c","c2p"],"position_biased_input":false}""", 7),
        ("v2 separate pos projections, no buckets", """{"model_type":"deberta-v2","relative_attention":true,"max_relative_positions":16,"share_att_key":false,"pos_att_type":["c2p","p2c"]}""", 12),
        ("v2 no buckets, span clamped", """{"model_type":"deberta-v2","relative_attention":true,"max_relative_positions":4,"share_att_key":true,"pos_att_type":["c2p","p2c"]}""", 11),
        ("v2 conv", """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":16,"share_att_key":true,"conv_kernel_size":3,"conv_act":"gelu","pos_att_type":["p2c","c2p"]}""", 10),
        ("c2p only", """{"model_type":"deberta-v2","relative_attention":true,"position_buckets":8,"max_relative_positions":16,"pos_att_type":["c2p"]}""", 9),
        ("p2c only, head size 8 (all-head 16 != hidden 24)", """{"model_type":"deberta-v2","hidden_size":24,"attention_head_size":8,"relative_attention":true,"position_buckets":6,"max_relative_positions":32,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":"p2c"}""", 12),
        ("no relative attention", """{"model_type":"deberta-v2","relative_attention":false,"pos_att_type":["c2p","p2c"]}""", 8),
        ("v1 talking heads, clamped span", """{"model_type":"deberta","relative_attention":true,"max_relative_positions":4,"talking_head":true,"pos_att_type":["c2p","p2c"],"position_biased_input":false}""", 9),
        ("v1 absolute positions, p2c only", """{"model_type":"deberta","relative_attention":true,"max_relative_positions":-1,"max_position_embeddings":32,"pos_att_type":"p2c","position_biased_input":true}""", 7),
        ("v1 c2p|p2c, span = length", """{"model_type":"deberta","relative_attention":true,"max_relative_positions":-1,"max_position_embeddings":32,"pos_att_type":["c2p","p2c"],"position_biased_input":false}""", 10),
    ];

    public static IEnumerable<object[]> Cases() =>
        from v in Variants()
        from mode in new[] { "fast", "fast-sdpa", "chunked" }
        select new object[] { v.Name, mode };

    internal static DebertaConfig Config(string json, string description)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        foreach (var (k, v) in new (string, System.Text.Json.Nodes.JsonNode)[] { ("vocab_size", 50), ("hidden_size", 32), ("num_hidden_layers", 2), ("num_attention_heads", 2), ("intermediate_size", 16), ("hidden_dropout_prob", 0.0), ("attention_probs_dropout_prob", 0.0) })
            if (!node.ContainsKey(k)) node[k] = v;
        return DebertaConfig.Parse(node.ToJsonString(), description);
    }

    internal static DebertaModel Model(DebertaConfig config)
    {
        manual_seed(11);
        var model = new DebertaModel(config);
        using (no_grad())
            foreach (var p in model.parameters()) p.normal_(0, 0.3);   // far from uniform attention
        return model;
    }

    internal static (Tensor Ids, Tensor Mask) Inputs(int length)
    {
        manual_seed(5);
        var ids = randint(1, 50, [2, length], dtype: ScalarType.Int64);
        var mask = ones(2, length, dtype: ScalarType.Int64);
        mask[1, TensorIndex.Slice(length - 3)] = 0;                       // padding in the second sequence
        return (ids, mask);
    }

    private static void AssertClose(Tensor actual, Tensor expected, string what) => Parity.AssertClose(actual, expected, what);

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputsAndAttentionsMatchReference(string variant, string mode)
    {
        var (_, json, length) = Variants().Single(v => v.Name == variant);
        using var model = Model(Config(json, variant));
        model.eval();
        var (ids, mask) = Inputs(length);
        using var _ = no_grad();
        model.AttentionOptions = Options("reference");
        using var expected = model.Forward(ids, mask, outputHiddenStates: true, outputAttentions: true);
        model.AttentionOptions = Options(mode);
        using var withProbs = model.Forward(ids, mask, outputHiddenStates: true, outputAttentions: true);   // explicit softmax
        using var plain = model.Forward(ids, mask);                                                        // SDPA (unless talking heads)
        // Every position, padded ones included: fully masked query rows give zero context in both implementations.
        AssertClose(plain.LastHiddenState, expected.LastHiddenState, $"{variant} {mode} last hidden state");
        AssertClose(withProbs.LastHiddenState, expected.LastHiddenState, $"{variant} {mode} last hidden state (with attentions)");
        for (int i = 0; i < expected.Attentions!.Count; i++)
            AssertClose(withProbs.Attentions![i], expected.Attentions[i], $"{variant} {mode} attentions.{i}");
    }

    [Theory]
    [InlineData("v3 log buckets compressing (gathered)", "fast")]
    [InlineData("v3 log buckets compressing (gathered)", "fast-sdpa")]
    [InlineData("v3 buckets, short input (shifted)", "fast")]
    [InlineData("v3 buckets, short input (shifted)", "fast-sdpa")]
    [InlineData("v3 log buckets compressing (gathered)", "chunked")]
    [InlineData("v1 talking heads, clamped span", "fast")]
    [InlineData("p2c only, head size 8 (all-head 16 != hidden 24)", "chunked")]
    public void GradientsMatchReference(string variant, string mode)
    {
        var (_, json, length) = Variants().Single(v => v.Name == variant);
        using var model = Model(Config(json, variant));
        model.train();                                                     // dropout probabilities are 0
        var (ids, mask) = Inputs(length);
        manual_seed(3);
        var weights = randn(2, length, model.Config.HiddenSize);

        Dictionary<string, Tensor> Gradients(string m)
        {
            model.AttentionOptions = Options(m);
            model.zero_grad();
            using (var output = model.Forward(ids, mask))
                (output.LastHiddenState * weights).sum().backward();
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var expected = Gradients("reference");
        var actual = Gradients(mode);
        Assert.Contains(expected.Keys, k => k.Contains("rel_embeddings") || !model.Config.RelativeAttention);
        foreach (var (name, grad) in expected)
            AssertClose(actual[name], grad, $"{variant} {mode} grad {name}");
    }

    [Fact]
    public void PairMaskWithFullyMaskedRowMatchesReference()
    {
        var (_, json, length) = Variants().First();
        using var model = Model(Config(json, "pair mask"));
        model.eval();
        var (ids, _) = Inputs(length);
        manual_seed(9);
        var pairs = rand(2, length, length).gt(0.3).to(ScalarType.Int64);   // [B, L, L]
        pairs[0, 4] = 0;                                                       // a query row with no key at all
        using var _g = no_grad();
        // The model's inputs take [B, L] masks; the encoder also takes [B, Lq, Lk] pair masks.
        var embedded = model.Embeddings.Forward(ids);
        var outputs = new Dictionary<string, (Tensor Last, List<Tensor> Attentions)>();
        foreach (var mode in new[] { "reference", "fast", "fast-sdpa", "chunked" })
        {
            model.AttentionOptions = Options(mode);
            var (last, _, attentions) = model.Encoder.Forward(embedded, pairs, outputAttentions: true);
            outputs[mode] = (last, attentions!);
        }
        foreach (var mode in new[] { "fast", "fast-sdpa", "chunked" })
        {
            AssertClose(outputs[mode].Last, outputs["reference"].Last, $"pair mask {mode}");
            AssertClose(outputs[mode].Attentions[0], outputs["reference"].Attentions[0], $"pair mask {mode} attentions");
        }
        Assert.Equal(0.0, outputs["fast"].Attentions[0][0, TensorIndex.Colon, 4].abs().sum().item<float>());
    }

    [Fact]
    public void OnlyRowsThatOccurAreUsed()
    {
        // deberta-v3-base's positions (256 buckets, max_relative_positions 512) on a narrow model.
        var config = Config("""{"model_type":"deberta-v2","relative_attention":true,"position_buckets":256,"max_relative_positions":512,"share_att_key":true,"norm_rel_ebd":"layer_norm","pos_att_type":["p2c","c2p"],"position_biased_input":false}""", "v3-base positions");
        using var model = Model(config);
        var encoder = model.Encoder;
        using (var short128 = encoder.BuildRelativeContext(128, 128)!)
        {
            Assert.Equal(AttentionPath.Shifted, short128.Layout);
            Assert.Equal(255, short128.Embeddings.shape[0]);                  // 2L − 1 rows, not 2·span = 512
            Assert.Null(short128.Index);                                      // no [L, L] index kept
        }
        using (var long512 = encoder.BuildRelativeContext(512, 512)!)
        {
            // log buckets repeat rows: 1023 distances over 511 rows; the plan weighs the extra columns against a gather
            Assert.Equal(AttentionPlan.Choose(model.AttentionOptions, 512, 512, 511, config.HeadSize), long512.Layout);
            Assert.Equal(511, long512.Embeddings.shape[0]);
        }
        model.AttentionOptions = new AttentionOptions { ChunkQueriesAbove = 1024 };
        using (var long2048 = encoder.BuildRelativeContext(2048, 2048)!)
        {
            Assert.Equal(AttentionPath.Chunked, long2048.Layout);
            Assert.Null(long2048.Index);
            Assert.Equal(2 * 2048 - 1, long2048.DistanceIndex!.shape[0]);
        }
        model.AttentionOptions = Options("reference");
        using var reference = encoder.BuildRelativeContext(128, 128)!;
        Assert.Equal(512, reference.Embeddings.shape[0]);
    }

    [Fact]
    public void ShiftToPairsMatchesHandWorkedTable()
    {
        // byDistance[a, c] = 10·a + c for n = 3 rows and m = 4 columns (width 6): out[a, b] = byDistance[a, b − a + 2].
        var byDistance = arange(3 * 6, dtype: ScalarType.Float32).view(3, 6);
        byDistance = (byDistance.div(6).floor() * 10 + byDistance.remainder(6)).contiguous();
        var expected = tensor(new float[,] { { 2, 3, 4, 5 }, { 11, 12, 13, 14 }, { 20, 21, 22, 23 } });
        Assert.True(RelativePositions.ShiftToPairs(byDistance, 4).eq(expected).all().item<bool>());
        // One row: the columns are already pairs.
        Assert.True(RelativePositions.ShiftToPairs(arange(5f).view(1, 5), 5).eq(arange(5f).view(1, 5)).all().item<bool>());
        Assert.Throws<ArgumentException>(() => RelativePositions.ShiftToPairs(zeros(3, 5), 4));
    }

    [Fact]
    public void BadOptionsAreRejected()
    {
        using var model = Model(Config(Variants().First().Json, "options"));
        var error = Assert.Throws<DebertaConfigurationException>(() => model.AttentionOptions = new AttentionOptions { QueryChunkSize = 0 });
        Assert.Contains("QueryChunkSize", error.Message);
    }
}
