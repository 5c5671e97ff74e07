using BenchmarkDotNet.Attributes;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Benchmarks;

/// <summary>FromPretrained of a deberta-v3-base-shaped float32 checkpoint written to a temporary folder.</summary>
public class LoadBenchmarks
{
    private string? _folder;

    /// <summary>Target dtype.</summary>
    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"deberta-bdn-load-{Environment.ProcessId}");
        manual_seed(1);
        using var model = new DebertaModel(BenchmarkModels.DebertaV3Base());
        model.SavePretrained(_folder);
    }

    [Benchmark]
    public void Load()
    {
        using var model = DebertaModel.FromPretrained(_folder!, dtype: DType);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_folder is not null && Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>Batch encoding of 10k generated sentences with the v3 SentencePiece test fixture (run from the repository root).</summary>
public class TokenizerBenchmarks
{
    private DebertaTokenizerBase? _tokenizer;
    private List<string>? _texts;

    [GlobalSetup]
    public void Setup()
    {
        string folder = Path.Combine("tests", "DebertaSharp.Tests", "Fixtures", "tokenizer-v3");
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Run from the repository root: the tokenizer fixture '{Path.GetFullPath(folder)}' is missing.");
        _tokenizer = AutoTokenizer.FromPretrained(folder);
        _texts = BenchCommand.Sentences(10_000, seed: 1);
    }

    [Benchmark]
    public int EncodeBatch() => _tokenizer!.EncodeBatch(_texts!).Encodings.Count;
}
