using BenchmarkDotNet.Attributes;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using DebertaSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Benchmarks;

/// <summary>One training step (forward, backward, AdamW) of sequence classification at 8×128, with and without checkpointing.</summary>
public class TrainingStepBenchmarks
{
    private DebertaForSequenceClassification? _model;
    private AdamW? _optimizer;
    private DebertaInputs? _inputs;

    /// <summary>Per-layer gradient checkpointing.</summary>
    [Params(false, true)]
    public bool GradientCheckpointing { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        manual_seed(1);
        _model = new DebertaForSequenceClassification(BenchmarkModels.DebertaV3Base());
        _model.train();
        _model.AttentionOptions = new AttentionOptions { GradientCheckpointing = GradientCheckpointing };
        _optimizer = new AdamW(_model.named_parameters(), new AdamWOptions { LearningRate = 1e-5 });
        var ids = randint(1, 128000, [8, 128], dtype: ScalarType.Int64).DetachFromDisposeScope();
        var labels = randint(0, 2, [8], dtype: ScalarType.Int64).DetachFromDisposeScope();
        _inputs = new DebertaInputs(ids) { Labels = labels };
    }

    [Benchmark]
    public void Step()
    {
        using (var scope = NewDisposeScope())
        {
            using var output = _model!.Forward(_inputs!);
            output.Loss!.backward();
        }
        _optimizer!.Step();
        _optimizer.ZeroGrad();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer?.Dispose();
        _model?.Dispose();
        _inputs?.InputIds.Dispose();
        _inputs?.Labels?.Dispose();
    }
}
