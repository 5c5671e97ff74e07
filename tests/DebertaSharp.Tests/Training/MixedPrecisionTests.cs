using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

[Collection(SerialTorchRng.Name)]
public class MixedPrecisionTests
{
    [Fact]
    public void DenseRunsInBFloat16InsideTheScopeOnlyAndReturnsFloat32()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(4, 6, 32);
        var w = randn(48, 32);
        var b = randn(48);
        var exact = nn.functional.linear(x, w, b);
        var bf16 = nn.functional.linear(x.to(ScalarType.BFloat16), w.to(ScalarType.BFloat16), b.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        Assert.True((bf16 - exact).abs().max().item<float>() > 1e-3f, "the test inputs do not tell bf16 from fp32");

        Tensor inside;
        ScalarType? otherThread = ScalarType.Float64;
        using var entered = new ManualResetEventSlim();
        using var read = new ManualResetEventSlim();
        var thread = new Thread(() => { entered.Wait(); otherThread = Autocast.ComputeType; read.Set(); });
        thread.Start();                                          // started before the scope: it must not see it
        using (Autocast.Enter(ScalarType.BFloat16))
        {
            Assert.Equal(ScalarType.BFloat16, Autocast.ComputeType);
            inside = Dense.Linear(x, w, b);
            entered.Set();
            read.Wait();
        }
        thread.Join();
        Assert.Null(otherThread);
        Assert.Null(Autocast.ComputeType);
        Assert.Equal(ScalarType.Float32, inside.dtype);
        Assert.Equal(0f, (inside - bf16).abs().max().item<float>());     // exactly the bf16 product
        Assert.Equal(0f, (Dense.Linear(x, w, b) - exact).abs().max().item<float>());
        Assert.Throws<DebertaConfigurationException>(() => Autocast.Enter(ScalarType.Float64));
    }

    // bf16 keeps 8 significant bits (relative rounding 2⁻⁹ ≈ 2e-3 per operand); through two tiny layers and a
    // classifier the loss moves by well under 1 %, and the whole gradient by under 5 % of its norm. Per tensor the
    // direction is checked (cosine ≥ 0.98) only for tensors holding ≥ 5 % of the gradient's norm: a near-cancelling
    // sum such as the classifier bias's (Σ softmax − one-hot ≈ 0) has no relative precision to keep. fp32 parity
    // (1e-5) is not expected of a low-precision product.
    [Fact]
    public void BFloat16LossAndGradientsAreCloseToFloat32WithFloat32MasterGradients()
    {
        TrainingSeed.Set(3);
        using var model = new DebertaForSequenceClassification(TinyModels.V3(dropout: 0));
        model.train();
        using var scope = NewDisposeScope();
        var ids = randint(3, 128, [4, 16], dtype: ScalarType.Int64);
        var inputs = new DebertaInputs(ids) { Labels = tensor(new long[] { 0, 1, 1, 0 }) };

        (double Loss, Dictionary<string, Tensor> Grads) Pass(ScalarType? type)
        {
            model.zero_grad();
            using var autocast = Autocast.Enter(type);
            using var output = model.Forward(inputs);
            output.Loss!.backward();
            return (output.Loss.item<float>(), model.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        var (fp32Loss, fp32) = Pass(null);
        var (bf16Loss, bf16) = Pass(ScalarType.BFloat16);

        Assert.NotEqual(fp32Loss, bf16Loss);                                   // the products really ran in bf16
        Assert.True(Math.Abs(bf16Loss - fp32Loss) <= 1e-2 * Math.Abs(fp32Loss), $"loss {bf16Loss} vs {fp32Loss}");
        Assert.Equal(fp32.Keys.Order(), bf16.Keys.Order());
        Assert.All(bf16.Values, h => Assert.Equal(ScalarType.Float32, h.dtype));     // master gradients stay fp32
        var all32 = cat(fp32.Keys.Order().Select(k => fp32[k].flatten()).ToArray());
        var all16 = cat(fp32.Keys.Order().Select(k => bf16[k].flatten()).ToArray());
        double total = all32.norm().item<float>();
        double error = (all16 - all32).norm().item<float>() / total;
        Assert.True(error <= 0.05, $"relative gradient error {error}");
        foreach (var (name, g) in fp32)
        {
            var h = bf16[name];
            double norm = g.norm().item<float>();
            if (norm < 0.05 * total) continue;
            double cosine = (g * h).sum().item<float>() / (norm * h.norm().item<float>());
            Assert.True(cosine >= 0.98, $"{name}: cosine {cosine}");
        }
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
    }

    [Fact]
    public void GradientCheckpointingReplaysALayerInThePrecisionOfItsFirstPass()
    {
        TrainingSeed.Set(4);
        using var model = new DebertaForSequenceClassification(TinyModels.V3(dropout: 0));
        model.train();
        using var scope = NewDisposeScope();
        var inputs = new DebertaInputs(randint(3, 128, [2, 12], dtype: ScalarType.Int64)) { Labels = tensor(new long[] { 1, 0 }) };

        Dictionary<string, Tensor> Grads(bool checkpointing, bool touch = false)
        {
            model.zero_grad();
            model.AttentionOptions = new AttentionOptions { GradientCheckpointing = checkpointing };
            DebertaOutput output;
            using (Autocast.Enter(ScalarType.BFloat16)) output = model.Forward(inputs);
            if (touch) CheckpointProbe.TouchLayerWeights(model);               // survived only if backward replays the layers
            output.Loss!.backward();                                           // outside the scope: the replay must remember bf16
            output.Dispose();
            return model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var plain = Grads(false);
        Assert.ThrowsAny<Exception>(() => Grads(false, touch: true));         // the probe can fail: a plain pass keeps the weights it used
        var replayed = Grads(true, touch: true);
        foreach (var (name, g) in plain)
            Assert.True((g - replayed[name]).abs().max().item<float>() <= 1e-6f, $"{name} differs after the checkpointed replay");
    }

    [Fact]
    public void TheScalerSkipsOnInfGradientsBacksOffAndGrowsAfterTheInterval()
    {
        using var scope = NewDisposeScope();
        var scaler = new GradScaler(new GradScalerOptions { GrowthInterval = 3 });
        Assert.Equal(65536.0, scaler.Scale);
        var p = new Parameter(zeros(3));
        p.grad = tensor(new[] { 65536f, 2 * 65536f, float.PositiveInfinity });
        Assert.False(scaler.Unscale([p]));
        scaler.Update(false);
        Assert.Equal(32768.0, scaler.Scale);
        Assert.Equal(1, scaler.SkippedSteps);

        p.grad = tensor(new[] { 32768f, -65536f, 0f });
        Assert.True(scaler.Unscale([p]));
        Assert.Equal([1f, -2f, 0f], p.grad.data<float>().ToArray());           // unscaled in place
        scaler.Update(true);
        scaler.Update(true);
        Assert.Equal(32768.0, scaler.Scale);
        scaler.Update(true);                                                     // the third clean step in a row
        Assert.Equal(65536.0, scaler.Scale);
        Assert.Equal(0, scaler.GrowthTracker);

        var restored = new GradScaler(scaler.Options);
        restored.Load(JsonNode.Parse(scaler.ToJson().ToJsonString()), "test");
        Assert.Equal((scaler.Scale, scaler.GrowthTracker, scaler.SkippedSteps), (restored.Scale, restored.GrowthTracker, restored.SkippedSteps));
        Assert.Throws<CheckpointException>(() => restored.Load(null, "test"));
        Assert.Throws<TrainingException>(() => new GradScaler(new GradScalerOptions { BackoffFactor = 1 }));
    }

    [Fact]
    public void Float16StepsWithOverflowingGradientsAreSkippedWithTheSchedule()
    {
        using var dir = new TempDir();
        var (model, train, eval) = TrainerTests.Setup(dir, dropout: 0);
        using var _ = model;
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope());
        // 1e30 × any gradient overflows float16 (max 65504): every step is skipped and the scale halves each time.
        var options = TrainerTests.Options(Path.Combine(dir.Path, "out"), maxSteps: 3) with
        {
            MixedPrecision = MixedPrecision.Float16, LoggingSteps = 1, EvalSteps = 3, LoadBestModelAtEnd = false,
            LossScaling = new GradScalerOptions { InitScale = 1e30 },
        };
        var result = new Trainer(model, train, eval, options).Train();

        var logged = result.LogHistory.Where(e => e.Values.ContainsKey("loss")).ToList();
        Assert.Equal([0.5e30, 0.25e30, 0.125e30], logged.Select(e => e.Values["loss_scale"]));
        Assert.All(logged, e => Assert.Equal(0.0, e.Values["learning_rate"]));   // the schedule stays at step 0 (warm-up start)
        Assert.All(logged, e => Assert.False(e.Values.ContainsKey("grad_norm")));
        foreach (var (name, value) in model.state_dict())
            Assert.True(value.allclose(before[name], 0, 0), $"{name} changed in a skipped step");
        var state = TrainingCheckpoint.ReadState(Path.Combine(dir.Path, "out", "checkpoint-3"));
        Assert.Equal(0, state.OptimizerStepCount);
        Assert.Equal(3, state.Extra["grad_scaler"]!["skipped_steps"]!.GetValue<long>());
        foreach (var t in before.Values) t.Dispose();
    }

    [Fact]
    public void Float16ScaleGrowsAfterTheIntervalOfCleanSteps()
    {
        using var dir = new TempDir();
        var (model, train, eval) = TrainerTests.Setup(dir);
        using var _ = model;
        var options = TrainerTests.Options(Path.Combine(dir.Path, "out"), maxSteps: 4) with
        {
            MixedPrecision = MixedPrecision.Float16, LoggingSteps = 1, LossScaling = new GradScalerOptions { InitScale = 256, GrowthInterval = 2 },
        };
        var result = new Trainer(model, train, eval, options).Train();
        Assert.Equal([256.0, 512.0, 512.0, 1024.0], result.LogHistory.Where(e => e.Values.ContainsKey("loss")).Select(e => e.Values["loss_scale"]));
    }

    [Fact]
    public void ResumingAFloat16RunRestoresTheScalerAndContinuesAsAnUninterruptedRun()
    {
        using var dir = new TempDir();
        // 2^20 overflows the first gradients, so the run skips steps and backs off before it trains; growth every 3 steps.
        TrainerOptions Options(string output) => TrainerTests.Options(output) with
        {
            MixedPrecision = MixedPrecision.Float16, LoggingSteps = 1,
            LossScaling = new GradScalerOptions { InitScale = 1 << 20, GrowthInterval = 3 },
        };
        var (reference, train, eval) = TrainerTests.Setup(dir);
        using var _r = reference;
        var full = new Trainer(reference, train, eval, Options(Path.Combine(dir.Path, "full"))).Train();
        var scales = full.LogHistory.Where(e => e.Values.ContainsKey("loss_scale")).Select(e => e.Values["loss_scale"]).ToList();
        Assert.True(scales.Distinct().Count() > 1, $"the scale never moved: {string.Join(", ", scales)}");

        string output = Path.Combine(dir.Path, "resumed");
        var (first, _, _) = TrainerTests.Setup(dir);
        using var _f = first;
        using var cts = new CancellationTokenSource();
        var stop = new TrainerTests.SyncProgress(p => { if (p.Event == TrainingEvent.Step && p.GlobalStep == 6) cts.Cancel(); });
        Assert.Throws<TrainingCanceledException>(() => new Trainer(first, train, eval, Options(output)).Train(progress: stop, cancellationToken: cts.Token));
        var (second, _, _) = TrainerTests.Setup(dir, seed: 99);
        using var _s = second;
        var resumed = new Trainer(second, train, eval, Options(output)).Train(resumeFrom: output);

        Assert.Equal(full.LogHistory.Select(e => (e.Step, string.Join(",", e.Values.OrderBy(v => v.Key).Select(v => $"{v.Key}={v.Value:R}")))),
                     resumed.LogHistory.Select(e => (e.Step, string.Join(",", e.Values.OrderBy(v => v.Key).Select(v => $"{v.Key}={v.Value:R}")))));
        foreach (var ((name, a), (_, b)) in reference.state_dict().Zip(second.state_dict()))
            Assert.True((a - b).abs().max().item<float>() <= 1e-6f, $"{name} differs between the resumed and the uninterrupted run");
        Assert.Equal(TrainingCheckpoint.ReadState(Path.Combine(dir.Path, "full", "checkpoint-12")).Extra["grad_scaler"]!.ToJsonString(),
                     TrainingCheckpoint.ReadState(Path.Combine(output, "checkpoint-12")).Extra["grad_scaler"]!.ToJsonString());
    }

    // The tiny task is separable: fp32 reaches 100 % held-out accuracy in 30 steps (TrainerTests); bf16 must too
    // (margin 0 on 8 examples), with a final training loss within 10 % of fp32's plus 0.02.
    [Fact]
    public void ABFloat16RunReachesTheAccuracyOfFloat32AndKeepsFloat32MastersAndOptimizerState()
    {
        using var dir = new TempDir();
        TrainingResult Run(MixedPrecision precision, out Dictionary<string, ScalarType> weights)
        {
            var (model, train, eval) = TrainerTests.Setup(dir);
            using var _ = model;
            var result = new Trainer(model, train, eval, TrainerTests.Options(Path.Combine(dir.Path, precision.ToString()), maxSteps: 30) with
            {
                EvalSteps = 10, MixedPrecision = precision,
            }).Train();
            weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.dtype);
            return result;
        }
        var fp32 = Run(MixedPrecision.None, out _);
        var bf16 = Run(MixedPrecision.BFloat16, out var masters);

        Assert.Equal(fp32.EvalMetrics!["eval_accuracy"], bf16.EvalMetrics!["eval_accuracy"]);
        Assert.Equal(1.0, bf16.EvalMetrics["eval_accuracy"]);
        double Last(TrainingResult r) => r.LogHistory.Last(e => e.Values.ContainsKey("loss")).Values["loss"];
        Assert.True(Math.Abs(Last(bf16) - Last(fp32)) <= 0.1 * Last(fp32) + 0.02, $"final loss {Last(bf16)} (bf16) vs {Last(fp32)} (fp32)");
        Assert.NotEqual(Last(fp32), Last(bf16));
        Assert.All(masters.Values, t => Assert.Equal(ScalarType.Float32, t));
        using var optimizerState = SafetensorsFile.Open(Path.Combine(dir.Path, "BFloat16", "checkpoint-30", TrainingCheckpoint.OptimizerFileName));
        Assert.NotEmpty(optimizerState.Entries);
        Assert.All(optimizerState.Entries, e => Assert.Equal("F32", e.DType));
    }

    [Fact]
    public void MixedPrecisionRunsLeaveNoLiveTensors()
    {
        using var dir = new TempDir();
        var (model, train, eval) = TrainerTests.Setup(dir);
        using var _ = model;
        foreach (var precision in new[] { MixedPrecision.BFloat16, MixedPrecision.Float16 })
        {
            var options = TrainerTests.Options(Path.Combine(dir.Path, $"warm-{precision}"), maxSteps: 2) with { MixedPrecision = precision };
            var trainer = new Trainer(model, train, eval, options);
            trainer.Train();
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            new Trainer(model, train, eval, options with { OutputDirectory = Path.Combine(dir.Path, $"out-{precision}"), MaxSteps = 6 }).Train();
            trainer.Evaluate(eval);
            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
    }

    [Fact]
    public void BadPrecisionSettingsAreRefused()
    {
        using var dir = new TempDir();
        var (model, train, eval) = TrainerTests.Setup(dir);
        using var _ = model;
        var options = TrainerTests.Options(Path.Combine(dir.Path, "out"));
        Assert.Contains("Mixed precision", Assert.Throws<TrainingException>(() => new Trainer(model, train, eval, options with { MixedPrecision = (MixedPrecision)7 })).Message);
        Assert.Contains("growth interval", Assert.Throws<TrainingException>(() =>
            new Trainer(model, train, eval, options with { MixedPrecision = MixedPrecision.Float16, LossScaling = new GradScalerOptions { GrowthInterval = 0 } })).Message);
        model.to(ScalarType.BFloat16);
        Assert.Contains("float32 master weights", Assert.Throws<TrainingException>(() => new Trainer(model, train, eval, options with { MixedPrecision = MixedPrecision.BFloat16 })).Message);
        new Trainer(model, train, eval, options);                               // a bf16 model in plain precision is still allowed
    }
}
