using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static DebertaSharp.Tests.Modeling.TensorAssert;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// The Enhanced Mask Decoder against emd-v3 (tensors from the original microsoft/DeBERTa code), its load/save
/// behaviour, and its relation to the plain HF head.
/// </summary>
public class EnhancedMaskDecoderTests(ITestOutputHelper log)
{
    private const string PositionTable = "deberta.embeddings.position_embeddings.weight";
    private static readonly GoldenCase Emd = new("emd-v3");

    /// <summary>Runs emd-v3 in process and names the results as expected.safetensors does.</summary>
    internal static Dictionary<string, Tensor> RunEmd(DebertaForMaskedLM model, Dictionary<string, Tensor> inputs)
    {
        var batch = new DebertaInputs(inputs["input_ids"]) { AttentionMask = inputs["attention_mask"], Labels = inputs["labels_hf"] };
        using var _ = no_grad();
        using var output = model.ForwardMaskedTargets(batch, inputs["labels"].gt(0), outputHiddenStates: true);
        Assert.True(output.UsedEnhancedMaskDecoder);
        var named = new Dictionary<string, Tensor>
        {
            ["emd_logits"] = output.Logits.clone(),
            ["emd_loss_per_token"] = output.LossPerToken!.clone(),
            ["emd_loss_mean"] = output.Loss!.clone(),
            ["emd_labels"] = output.Labels!.clone(),
            ["position_embeddings_z"] = output.PositionStates!.clone(),
            ["embedding_output"] = output.HiddenStates![0].clone(),
        };
        for (int i = 0; i < output.QueryStates.Count; i++) named[$"emd_query_layer.{i}"] = output.QueryStates[i].clone();
        for (int i = 1; i < output.HiddenStates.Count; i++) named[$"encoder_layers.{i - 1}"] = output.HiddenStates[i].clone();
        return named;
    }

    [Fact]
    public void ReproducesTheOriginalCode()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Emd.Folder);
        Assert.True(model.UseEnhancedMaskDecoder);
        var inputs = Emd.Inputs();
        var actual = RunEmd(model, inputs);
        foreach (var (key, reference) in Emd.Expected())
        {
            if (key.StartsWith("hf_plain", StringComparison.Ordinal)) continue;
            Assert.True(actual.ContainsKey(key), $"no {key}");
            if (reference.dtype == ScalarType.Int64)
            {
                Assert.True(Same(actual[key], reference), $"{key} differs");
                continue;
            }
            var (diff, limit) = Parity.Compare(actual[key], reference);
            log.WriteLine($"{key}: max|Δ| {diff:E2} (limit {limit:E2})");
            Assert.True(diff <= limit, $"{key}: max|Δ| {diff:E3} > {limit:E3}");
        }
    }

    [Fact]
    public void WithEmdOffThePlainHeadIsHuggingFaces()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Emd.Folder);
        model.UseEnhancedMaskDecoder = false;
        var inputs = Emd.Inputs();
        var expected = Emd.Expected();
        using var _ = no_grad();
        using var output = model.ForwardMaskedTargets(new DebertaInputs(inputs["input_ids"]) { AttentionMask = inputs["attention_mask"], Labels = inputs["labels_hf"] });
        Assert.False(output.UsedEnhancedMaskDecoder);
        Assert.Empty(output.QueryStates);
        foreach (var (actual, key) in new[] { (output.Logits, "hf_plain_mlm_logits_at_targets"), (output.Loss!, "hf_plain_mlm_loss") })
        {
            var (diff, limit) = Parity.Compare(actual, expected[key]);
            log.WriteLine($"{key}: max|Δ| {diff:E2} (limit {limit:E2})");
            Assert.True(diff <= limit, $"{key}: max|Δ| {diff:E3} > {limit:E3}");
        }

        // The ordinary Forward is HF's head whatever UseEnhancedMaskDecoder says.
        model.UseEnhancedMaskDecoder = true;
        using var full = model.Forward(new DebertaInputs(inputs["input_ids"]) { AttentionMask = inputs["attention_mask"], Labels = inputs["labels_hf"] });
        var atTargets = full.Logits!.reshape(-1, full.Logits.shape[^1]).index_select(0, output.TargetIndex);
        foreach (var (actual, key) in new[] { (atTargets, "hf_plain_mlm_logits_at_targets"), (full.Loss!, "hf_plain_mlm_loss") })
        {
            var (diff, limit) = Parity.Compare(actual, expected[key]);
            Assert.True(diff <= limit, $"Forward {key}: max|Δ| {diff:E3} > {limit:E3}");
        }
    }

    [Fact]
    public void EmdDiffersFromThePlainHead()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Emd.Folder);
        var actual = RunEmd(model, Emd.Inputs());
        var expected = Emd.Expected();
        double logits = (actual["emd_logits"] - expected["hf_plain_mlm_logits_at_targets"]).abs().max().item<float>();
        double loss = (actual["emd_loss_mean"] - expected["hf_plain_mlm_loss"]).abs().item<float>();
        log.WriteLine($"EMD vs plain: logits {logits:F3}, loss {loss:F3}");
        Assert.True(logits > 0.1, $"EMD logits are within {logits} of the plain head: did EMD fall back?");
    }

    [Fact]
    public void PositionTableLoadsAndRoundTripsInTheOriginalLayout()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Emd.Folder);
        var report = model.LoadReport!;
        Assert.Contains(PositionTable, report.Loaded);
        Assert.DoesNotContain(report.Ignored, i => i.Key == PositionTable);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);

        using var tmp = new TempDir();
        model.SavePretrained(tmp.Path);
        using (var source = CheckpointReader.Open(Emd.Folder))
        using (var saved = SafetensorsFile.Open(Path.Combine(tmp.Path, "model.safetensors")))
        {
            Assert.Equal(source.Keys.OrderBy(k => k, StringComparer.Ordinal), saved.Entries.Select(e => e.Name).OrderBy(k => k, StringComparer.Ordinal));
            Assert.Contains(saved.Entries, e => e.Name.StartsWith("lm_predictions.lm_head.", StringComparison.Ordinal));
            Assert.DoesNotContain(saved.Entries, e => e.Name.StartsWith("cls.", StringComparison.Ordinal));
            foreach (var entry in saved.Entries)
            {
                using var a = source.Read(entry.Name);
                using var b = saved.Read(entry.Name);
                Assert.True(Same(a, b), $"{entry.Name} changed on save");
            }
        }

        using var reloaded = DebertaForMaskedLM.FromPretrained(tmp.Path);
        Assert.True(reloaded.UseEnhancedMaskDecoder);
        Assert.Contains(PositionTable, reloaded.LoadReport!.Loaded);
        var inputs = Emd.Inputs();
        var before = RunEmd(model, inputs);
        var after = RunEmd(reloaded, inputs);
        foreach (var (key, value) in before) Assert.True(Same(value, after[key]), $"{key} differs after reload");
    }

    [Fact]
    public void CheckpointWithoutPositionTableHasEmdOff()
    {
        using var model = DebertaForMaskedLM.FromPretrained(new GoldenCase("deberta-v3").Folder);
        Assert.False(model.UseEnhancedMaskDecoder);
        Assert.Null(model.Deberta.Embeddings.PositionEmbeddings);
        var ex = Assert.Throws<DebertaConfigurationException>(() => model.UseEnhancedMaskDecoder = true);
        Assert.Contains("position_embeddings", ex.Message);
    }

    [Fact]
    public void PositionBiasedInputEmdIsThePlainHeadOnTheLastLayer()
    {
        var config = DebertaConfig.Parse("""
            {"model_type":"deberta-v2","vocab_size":40,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,
             "intermediate_size":32,"max_position_embeddings":32,"position_biased_input":true,"relative_attention":true,
             "position_buckets":8,"max_relative_positions":32,"pos_att_type":"p2c|c2p","share_att_key":true,
             "norm_rel_ebd":"layer_norm","type_vocab_size":0,"legacy":false}
            """);
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new DebertaForMaskedLM(config, enhancedMaskDecoder: true);
        model.eval();
        Assert.True(model.UseEnhancedMaskDecoder);
        using (no_grad())
            foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.2);   // far from the tiny HF initialisation
        var ids = randint(1, 40, [2, 10], dtype: ScalarType.Int64);
        var mask = ones_like(ids);
        mask[1, TensorIndex.Slice(7)] = 0;
        var labels = full_like(ids, -100);
        labels[0, 2] = 5; labels[0, 7] = 9; labels[1, 1] = 3;
        var inputs = new DebertaInputs(ids) { AttentionMask = mask, Labels = labels };
        using var _ = no_grad();
        using var emd = model.ForwardMaskedTargets(inputs, outputHiddenStates: true);
        model.UseEnhancedMaskDecoder = false;
        using var plain = model.ForwardMaskedTargets(inputs);
        Assert.True(emd.UsedEnhancedMaskDecoder);
        Assert.False(plain.UsedEnhancedMaskDecoder);
        Assert.Null(emd.PositionStates);
        Assert.Single(emd.QueryStates);
        var last = emd.HiddenStates![^1];
        Assert.True(Same(emd.QueryStates[0], last.reshape(-1, 16).index_select(0, emd.TargetIndex)));
        Assert.True(Same(emd.TargetIndex, tensor(new long[] { 2, 7, 11 })));
        Assert.True(Same(emd.Logits, plain.Logits));
        Assert.True(Same(emd.LossPerToken!, plain.LossPerToken!));
        Assert.True(Same(emd.Loss!, plain.Loss!));
        Assert.True(emd.Logits.abs().max().item<float>() > 0.1);
    }

    [Fact]
    public void FiftyEmdPassesLeaveNoLiveTensors()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Emd.Folder);
        var tensors = Emd.Inputs();
        var inputs = new DebertaInputs(tensors["input_ids"]) { AttentionMask = tensors["attention_mask"], Labels = tensors["labels_hf"] };
        using var _ = no_grad();
        for (int i = 0; i < 2; i++) model.ForwardMaskedTargets(inputs, outputHiddenStates: true).Dispose();   // warm-up

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++)
        {
            using var output = model.ForwardMaskedTargets(inputs, outputHiddenStates: i % 2 == 0);
            Assert.Equal(2, output.QueryStates.Count);
        }
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void MissingTargetsAndLabelsIsAnInputError()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Emd.Folder);
        var tensors = Emd.Inputs();
        Assert.Throws<DebertaInputException>(() => model.ForwardMaskedTargets(new DebertaInputs(tensors["input_ids"])));
        Assert.Throws<DebertaInputException>(() => model.ForwardMaskedTargets(new DebertaInputs(tensors["input_ids"]), ones(2, 3)));
    }
}
