using System.CommandLine;
using System.Text.Json;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta info DIR</c>: architecture, sizes, parameter count, dtype and the key report of a checkpoint.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("model") { Description = "Checkpoint folder, or a Hugging Face Hub repo id (then: what the local cache holds of it; no network)." };
        dir.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && CliErrors.FolderProblem(result.Tokens[0].Value, ModelFolderNeeds.Config) is { } problem)
            {
                result.AddError(problem);
            }
        });
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var cmd = new Command("info", "Describe a checkpoint folder: architecture, sizes, parameters, dtype and how its keys load.") { dir, json };
        cmd.SetAction(parse => CliErrors.Run(() => parse.GetValue(dir)! is var model && !Directory.Exists(model) && Hub.PretrainedSource.IsRepoId(model)
            ? HubCacheInfoCommand.Run(model, parse.GetValue(json), parse.InvocationConfiguration.Output)
            : Run(Path.GetFullPath(model), parse.GetValue(json)), parse.InvocationConfiguration.Error));
        return cmd;
    }

    public static int Run(string folder, bool asJson)
    {
        var config = DebertaConfig.FromPretrained(folder);
        var head = AutoModel.HeadOf(config);
        Dictionary<string, long> dtypes;
        IReadOnlyList<string> files;
        using (var checkpoint = CheckpointReader.Open(folder))
        {
            dtypes = checkpoint.Keys.GroupBy(k => checkpoint.GetEntry(k).DType).ToDictionary(g => g.Key, g => g.LongCount());
            files = checkpoint.Files.Select(Path.GetFileName).ToList()!;
        }
        using var model = AutoModel.FromPretrained(folder, config, head, device: null, dtype: null);   // config.json read once
        long parameters = model.parameters().Sum(p => p.numel());
        var report = model.LoadReport!;
        var info = new
        {
            architecture = model.ArchitectureName,
            model_type = config.ModelType == DebertaModelType.Deberta ? "deberta" : "deberta-v2",
            hidden_size = config.HiddenSize,
            num_hidden_layers = config.NumHiddenLayers,
            num_attention_heads = config.NumAttentionHeads,
            intermediate_size = config.IntermediateSize,
            vocab_size = config.VocabSize,
            embedding_size = config.EffectiveEmbeddingSize,
            relative_attention = config.RelativeAttention,
            pos_att_type = config.PosAttType,
            position_buckets = config.PositionBuckets,
            max_relative_positions = config.EffectiveMaxRelativePositions,
            num_labels = config.NumLabels,
            enhanced_mask_decoder = (model as DebertaForMaskedLM)?.UseEnhancedMaskDecoder,
            parameters,
            checkpoint_dtypes = dtypes,
            files,
            loaded = report.Loaded.Count,
            missing = report.Missing,
            unexpected = report.Unexpected,
            ignored = report.Ignored.Select(i => new { key = i.Key, reason = i.Reason }),
            prefix_adaptation = report.PrefixAdaptation,
        };
        if (asJson)
        {
            Console.WriteLine(JsonSerializer.Serialize(info, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        Console.WriteLine($"{info.architecture} ({info.model_type}) from {folder}");
        Console.WriteLine($"  layers {config.NumHiddenLayers}, hidden {config.HiddenSize}, heads {config.NumAttentionHeads}, intermediate {config.IntermediateSize}, vocab {config.VocabSize}, embedding {config.EffectiveEmbeddingSize}");
        Console.WriteLine($"  relative attention {config.RelativeAttention} [{string.Join("|", config.PosAttType)}], buckets {config.PositionBuckets}, max relative {config.EffectiveMaxRelativePositions}, labels {config.NumLabels}");
        if (info.enhanced_mask_decoder is { } emd)
            Console.WriteLine(emd
                ? "  enhanced mask decoder: on (absolute position table loaded; ForwardMaskedTargets / forward --head emd use it)"
                : "  enhanced mask decoder: off (on only for a checkpoint with the absolute position table and position_biased_input=false)");
        Console.WriteLine($"  parameters {parameters:N0}; checkpoint dtypes {string.Join(", ", dtypes.Select(kv => $"{kv.Key}×{kv.Value}"))}; files {string.Join(", ", files)}");
        foreach (var line in report.ToString().Split('\n')) Console.WriteLine("  " + line);
        return 0;
    }
}
