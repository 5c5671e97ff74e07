using System.CommandLine;
using System.Diagnostics;
using DebertaSharp.Configuration;
using DebertaSharp.Diagnostics;
using DebertaSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// What a model benchmark runs on: a checkpoint folder (<c>--model</c>) or a named shape with random weights
/// (<c>--config base</c> = deberta-v3-base), plus the options every model benchmark shares.
/// </summary>
internal sealed class BenchSubject
{
    public static readonly Option<DirectoryInfo> ModelOption = CliErrors.FolderOption("--model", "Checkpoint folder to benchmark (default: --config).", ModelFolderNeeds.Config, required: false);
    public static readonly Option<string> ConfigOption = new("--config") { Description = "Random-weight model shape when --model is absent: base (deberta-v3-base).", DefaultValueFactory = _ => "base" };
    public static readonly Option<int> ThreadsOption = new("--threads") { Description = "Torch intra-op threads.", DefaultValueFactory = _ => 2 };
    public static readonly Option<string> DTypeOption = new("--dtype") { Description = "float32, bfloat16 or float16.", DefaultValueFactory = _ => "float32" };
    public static readonly Option<string> ImplementationOption = new("--implementation") { Description = "Attention: fast or reference.", DefaultValueFactory = _ => "fast" };

    public static void AddTo(Command command)
    {
        command.Options.Add(ModelOption);
        command.Options.Add(ConfigOption);
        command.Options.Add(ThreadsOption);
        command.Options.Add(DTypeOption);
        command.Options.Add(ImplementationOption);
    }

    private BenchSubject(string? folder, DebertaConfig config, int threads, ScalarType dtype, AttentionOptions options)
    {
        Folder = folder;
        Config = config;
        Threads = threads;
        DTypeValue = dtype;
        Options = options;
    }

    public string? Folder { get; }
    public DebertaConfig Config { get; }
    public int Threads { get; }
    public ScalarType DTypeValue { get; }
    public AttentionOptions Options { get; }

    public string Description => Folder is null ? "deberta-v3-base shape, random weights" : Folder;

    public static BenchSubject From(ParseResult parse)
    {
        string? folder = parse.GetValue(ModelOption) is { } m ? CliErrors.ModelPath(m) : null;
        var config = folder is not null ? DebertaConfig.FromPretrained(folder) : parse.GetValue(ConfigOption) switch
        {
            "base" => BenchmarkModels.DebertaV3Base(),
            var other => throw new DebertaSharpException($"--config '{other}' is not known; use base (deberta-v3-base) or give --model DIR."),
        };
        int threads = parse.GetValue(ThreadsOption);
        if (threads < 1) throw new DebertaSharpException($"--threads must be at least 1, got {threads}.");
        torch.set_num_threads(threads);
        var options = parse.GetValue(ImplementationOption) switch
        {
            "fast" => new AttentionOptions(),
            "reference" => new AttentionOptions { Implementation = AttentionImplementation.Reference },
            var other => throw new DebertaSharpException($"--implementation '{other}' is not known; use fast or reference."),
        };
        return new BenchSubject(folder, config, threads, ParseDType(parse.GetValue(DTypeOption)!), options);
    }

    public static ScalarType ParseDType(string name) => name switch
    {
        "float32" or "fp32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" => ScalarType.Float16,
        _ => throw new DebertaSharpException($"--dtype '{name}' is not known; use float32, bfloat16 or float16."),
    };

    public static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };

    /// <summary>The bare encoder (checkpoint or random weights) in eval mode, in <paramref name="dtype"/>.</summary>
    public DebertaModel BuildEncoder(ScalarType? dtype = null)
    {
        manual_seed(1);
        var model = Folder is null ? new DebertaModel(Config) : DebertaModel.FromPretrained(Folder);
        if ((dtype ?? DTypeValue) != ScalarType.Float32) model.to(dtype ?? DTypeValue);
        model.eval();
        model.AttentionOptions = Options;
        return model;
    }

    /// <summary>Random token ids in [1, vocab) and an all-ones mask, [batch, length].</summary>
    public DebertaInputs Inputs(long batch, long length, int seed = 7)
    {
        manual_seed(seed);
        var ids = randint(1, Config.VocabSize, [batch, length], dtype: ScalarType.Int64);
        return new DebertaInputs(ids) { AttentionMask = ones_like(ids) };
    }

    /// <summary>Milliseconds of one inference forward pass.</summary>
    public static double TimeForward(DebertaPreTrainedModel model, DebertaInputs inputs)
    {
        using var inference = inference_mode();
        long start = Stopwatch.GetTimestamp();
        using (var output = model.Forward(inputs)) { }
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Parses "8x128" or a comma-separated list of them.</summary>
    public static List<(long Batch, long Length)> ParseShapes(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
        {
            var parts = s.Split('x');
            if (parts.Length != 2 || !long.TryParse(parts[0], out long b) || !long.TryParse(parts[1], out long l) || b < 1 || l < 1)
                throw new DebertaSharpException($"Shape '{s}' is not BATCHxLENGTH with positive numbers (e.g. 8x128).");
            return (b, l);
        }).ToList();

    public static string Mb(long bytes) => $"{bytes / (1024.0 * 1024.0):F0}";
}
