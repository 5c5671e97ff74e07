using DebertaSharp.Modeling;
using DebertaSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using AdamW = DebertaSharp.Training.AdamW;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

public class AdamWTests
{
    private static readonly string[] Names =
    [
        "deberta.embeddings.word_embeddings.weight",
        "deberta.encoder.layer.0.attention.self.query_proj.weight",
        "deberta.encoder.layer.0.attention.self.query_proj.bias",
        "deberta.encoder.layer.0.output.LayerNorm.weight",
        "deberta.encoder.rel_embeddings.weight",
        "classifier.weight",
    ];

    private static (Parameter[] Ours, Parameter[] Reference) TwinParameters()
    {
        var generator = new Generator(7UL);
        var shapes = new long[][] { [6, 4], [4, 4], [4], [4], [8, 4], [3, 4] };
        var ours = shapes.Select(s => new Parameter(randn(s, generator: generator))).ToArray();
        var reference = ours.Select(p => new Parameter(p.detach().clone())).ToArray();
        return (ours, reference);
    }

    [Fact]
    public void MatchesTorchSharpAdamWOverSeveralSteps()
    {
        var (ours, reference) = TwinParameters();
        var options = new AdamWOptions { LearningRate = 3e-2, Beta1 = 0.8, Beta2 = 0.95, Epsilon = 1e-6, WeightDecay = 0.1 };
        using var adamw = new AdamW(Names.Zip(ours), options);

        // The reference: TorchSharp's own AdamW, decayed and not-decayed parameters in two optimizers (two HF param groups).
        bool[] decay = Names.Select(n => !AdamWOptions.HuggingFaceNoDecay(n)).ToArray();
        Assert.Equal([true, true, false, false, true, true], decay);
        var withDecay = optim.AdamW(reference.Where((_, i) => decay[i]), lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2, eps: options.Epsilon, weight_decay: options.WeightDecay);
        var noDecay = optim.AdamW(reference.Where((_, i) => !decay[i]), lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2, eps: options.Epsilon, weight_decay: 0);

        var generator = new Generator(11UL);
        for (int step = 0; step < 6; step++)
        {
            for (int i = 0; i < ours.Length; i++)
            {
                var g = randn(ours[i].shape, generator: generator) * (step + 1);
                ours[i].grad = g.clone();
                reference[i].grad = g.clone();
            }
            adamw.Step();
            withDecay.step();
            noDecay.step();
        }
        Assert.Equal(6, adamw.StepCount);
        for (int i = 0; i < ours.Length; i++)
        {
            double diff = (ours[i] - reference[i]).abs().max().item<float>();
            Assert.True(diff <= 1e-6, $"{Names[i]}: max |Δ| {diff} vs torch.optim.AdamW");
            // And the parameters really moved (the comparison is not vacuous).
            Assert.True((ours[i] - TwinParameters().Ours[i]).abs().max().item<float>() > 1e-3);
        }
    }

    [Fact]
    public void ScaledRatesAndTransposedGradientsMatchTorchSharpAdamW()
    {
        // The fused step runs one sweep per (rate factor, decay) group: check every group against its own
        // torch.optim.AdamW, with a transposed (non-contiguous) gradient.
        var (ours, reference) = TwinParameters();
        var options = new AdamWOptions { LearningRate = 2e-2, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-8, WeightDecay = 0.05 };
        double Scale(string name) => name.StartsWith("classifier", StringComparison.Ordinal) ? 3.0 : name.Contains("layer.0", StringComparison.Ordinal) ? 0.5 : 1.0;
        using var adamw = new AdamW(Names.Zip(ours), options, Scale);
        var optimizers = Names.Select((n, i) => optim.AdamW([reference[i]], lr: options.LearningRate * Scale(n), beta1: options.Beta1,
            beta2: options.Beta2, eps: options.Epsilon, weight_decay: AdamWOptions.HuggingFaceNoDecay(n) ? 0 : options.WeightDecay)).ToArray();

        var generator = new Generator(5UL);
        for (int step = 0; step < 4; step++)
        {
            for (int i = 0; i < ours.Length; i++)
            {
                var g = i == 0 ? randn([ours[i].shape[1], ours[i].shape[0]], generator: generator).t() : randn(ours[i].shape, generator: generator);
                if (i == 0) Assert.False(g.is_contiguous());
                ours[i].grad = g;
                reference[i].grad = g.clone();
            }
            adamw.Step();
            foreach (var optimizer in optimizers) optimizer.step();
        }
        for (int i = 0; i < ours.Length; i++)
        {
            double diff = (ours[i] - reference[i]).abs().max().item<float>();
            Assert.True(diff <= 1e-6, $"{Names[i]}: max |Δ| {diff} vs torch.optim.AdamW");
        }
    }

    [Fact]
    public void LearningRateChangesApplyToTheNextStep()
    {
        var p = new Parameter(ones(3));
        using var adamw = new AdamW([("w", p)], new AdamWOptions { LearningRate = 0.1, WeightDecay = 0.5 });
        p.grad = full(3, 2.0f);
        adamw.LearningRate = 0.01;
        adamw.Step();
        // Step 1 by hand: decay 1·(1 − 0.01·0.5) = 0.995; m = 0.2, v = 0.004; m̂ = 2, √v̂ = 2 → update 0.01·2/(2 + 1e-6).
        double expected = 0.995 - 0.01 * 2 / (2 + 1e-6);
        Assert.Equal(expected, p[0].item<float>(), 1e-6);
    }

    [Fact]
    public void ReplacingTheTrainersOptimizerOptionsKeepsItsLearningRate()
    {
        var trainer = new TrainerOptions { OutputDirectory = "out" };
        Assert.Equal(2e-5, trainer.Optimizer.LearningRate);
        Assert.Equal(trainer.Optimizer.LearningRate, new AdamWOptions { WeightDecay = 0 }.LearningRate);
        Assert.Equal(trainer.Optimizer, new AdamWOptions());
    }

    [Fact]
    public void DefaultRuleExemptsBiasesAndLayerNormOfARealModel()
    {
        using var model = new DebertaForSequenceClassification(TinyModels.V3());
        using var adamw = new AdamW(model.named_parameters(), new AdamWOptions());
        var decayed = adamw.DecayedParameterNames.ToHashSet();
        foreach (var name in adamw.ParameterNames)
        {
            bool exempt = name.EndsWith(".bias", StringComparison.Ordinal) || name.Contains("LayerNorm.", StringComparison.Ordinal);
            Assert.True(exempt != decayed.Contains(name), $"{name}: decayed={decayed.Contains(name)}");
        }
        Assert.Contains("deberta.embeddings.word_embeddings.weight", decayed);
        Assert.Contains("classifier.weight", decayed);
        Assert.DoesNotContain("deberta.encoder.LayerNorm.weight", decayed);
        Assert.DoesNotContain("classifier.bias", decayed);
    }

    [Fact]
    public void StateDictRoundTripsAndContinuesIdentically()
    {
        var (a, b) = TwinParameters();
        var options = new AdamWOptions { LearningRate = 1e-2 };
        using var first = new AdamW(Names.Zip(a), options);
        using var second = new AdamW(Names.Zip(b), options);
        void Grads(Parameter[] ps, int seed) { var g = new Generator((ulong)seed); foreach (var p in ps) p.grad = randn(p.shape, generator: g); }
        Grads(a, 1); first.Step();
        Grads(a, 2); first.Step();

        // Copy the weights and optimizer state across, then take the same third step on both.
        using (no_grad()) for (int i = 0; i < a.Length; i++) b[i].copy_(a[i]);
        var state = first.StateDict();
        Assert.Equal(Names.Length * 2, state.Count);
        Assert.Contains("exp_avg." + Names[0], state.Keys);
        Assert.Contains("exp_avg_sq." + Names[5], state.Keys);
        second.LoadStateDict(state, first.StepCount);
        Grads(a, 3); first.Step();
        Grads(b, 3); second.Step();
        for (int i = 0; i < a.Length; i++) Assert.True(a[i].eq(b[i]).all().item<bool>(), Names[i]);
    }

    [Fact]
    public void LoadStateDictNamesWhatDoesNotFit()
    {
        var (a, _) = TwinParameters();
        using var adamw = new AdamW(Names.Zip(a), new AdamWOptions());
        var state = adamw.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        state.Remove("exp_avg.classifier.weight");
        state["exp_avg_sq.classifier.weight"] = zeros(2, 2);
        state["exp_avg.nonexistent"] = zeros(1);
        var e = Assert.Throws<TrainingException>(() => adamw.LoadStateDict(state, 1));
        Assert.Contains("missing 'exp_avg.classifier.weight'", e.Message);
        Assert.Contains("'exp_avg_sq.classifier.weight' has shape [2, 2] but the parameter has [3, 4]", e.Message);
        Assert.Contains("unexpected 'exp_avg.nonexistent'", e.Message);
    }

    [Fact]
    public void DuplicatesAndEmptyParameterListsAreRejected()
    {
        var p = new Parameter(ones(2));
        Assert.Throws<TrainingException>(() => { using var _ = new AdamW([], new AdamWOptions()); });
        Assert.Contains("given twice", Assert.Throws<TrainingException>(() => { using var _ = new AdamW([("w", p), ("w", new Parameter(ones(2)))], new AdamWOptions()); }).Message);
        Assert.Contains("same parameter", Assert.Throws<TrainingException>(() => { using var _ = new AdamW([("a", p), ("b", p)], new AdamWOptions()); }).Message);
        // named_parameters() hands out a new wrapper (another Handle) for the same storage on every call.
        using var linear = TorchSharp.torch.nn.Linear(2, 2);
        var first = linear.named_parameters().First().parameter;
        var again = linear.named_parameters().First().parameter;
        Assert.Contains("same parameter", Assert.Throws<TrainingException>(() => { using var _ = new AdamW([("a", first), ("b", again)], new AdamWOptions()); }).Message);
        Assert.Throws<TrainingException>(() => { using var _ = new AdamW([("w", p)], new AdamWOptions { Beta2 = 1 }); });
    }

    [Fact]
    public void ZeroGradClearsAndStepsLeaveNoLiveTensors()
    {
        var (a, _) = TwinParameters();
        using var adamw = new AdamW(Names.Zip(a), new AdamWOptions());
        foreach (var p in a) p.grad = ones_like(p);
        adamw.Step();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++) adamw.Step();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        adamw.ZeroGrad();
        Assert.All(a, p => Assert.Null(p.grad));
    }
}
