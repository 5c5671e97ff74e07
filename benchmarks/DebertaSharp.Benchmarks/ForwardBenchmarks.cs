using BenchmarkDotNet.Attributes;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Benchmarks;

/// <summary>
/// Inference forward of a deberta-v3-base-shaped model (random weights), per shape, attention implementation and
/// dtype. The GEMM floor beside it, measured in alternation, is in the <c>report</c> mode (BenchmarkDotNet runs one
/// case at a time).
/// </summary>
public class ForwardBenchmarks
{
    private DebertaModel? _model;
    private DebertaInputs? _inputs;

    /// <summary>BATCHxLENGTH.</summary>
    [Params("1x128", "8x128", "1x512", "1x2048")]
    public string Shape { get; set; } = "8x128";

    /// <summary>Attention algorithm.</summary>
    [Params(AttentionImplementation.Fast, AttentionImplementation.Reference)]
    public AttentionImplementation Implementation { get; set; }

    /// <summary>Weights and activations dtype.</summary>
    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        manual_seed(1);
        _model = new DebertaModel(BenchmarkModels.DebertaV3Base());
        if (DType != ScalarType.Float32) _model.to(DType);
        _model.eval();
        _model.AttentionOptions = new AttentionOptions { Implementation = Implementation };
        var parts = Shape.Split('x').Select(long.Parse).ToArray();
        var ids = randint(1, 128000, [parts[0], parts[1]], dtype: ScalarType.Int64).DetachFromDisposeScope();
        _inputs = new DebertaInputs(ids);
    }

    [Benchmark]
    public void Forward()
    {
        using var inference = inference_mode();
        _model!.Forward(_inputs!).Dispose();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _inputs?.InputIds.Dispose();
    }
}
