using System.CommandLine;
using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// <c>deberta forward</c>: runs a checkpoint on inputs from a safetensors file and writes every output tensor
/// (hidden states, attentions, logits, loss) as float32 under HF's names. This is how parity is checked from outside.
/// </summary>
internal static class ForwardCommand
{
    private static readonly string[] InputNames =
        ["input_ids", "attention_mask", "token_type_ids", "position_ids", "labels", "start_positions", "end_positions"];

    /// <summary>The emd head also accepts <c>labels_hf</c> (the same targets in HF convention), to cross-check.</summary>
    private static readonly string[] EmdInputNames = [.. InputNames, "labels_hf"];

    public static Command Create()
    {
        var model = CliErrors.ModelOption();
        var inputs = new Option<FileInfo>("--inputs") { Description = "safetensors file with int64 input_ids [B,L] ([B,C,L] for multiple choice) and optional attention_mask, token_type_ids, labels, start_positions, end_positions.", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "safetensors file to write.", Required = true };
        var head = new Option<string>("--head")
        {
            Description = "Which head to run: auto (from config.json architectures), base, masked-lm, sequence-classification, token-classification, question-answering, multiple-choice, " +
                          "or emd (masked LM through the Enhanced Mask Decoder; needs labels in the original convention, label > 0 marks a target).",
            DefaultValueFactory = _ => "auto",
        };
        head.AcceptOnlyFromAmong(HeadNames.All);
        var threads = CliErrors.ThreadsOption();
        var cmd = new Command("forward", "Run a checkpoint on inputs.safetensors and write all outputs to a safetensors file.") { model, inputs, output, head, threads };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            string folder = CliErrors.ModelPath(parse.GetValue(model)!);
            CliErrors.SetThreads(parse.GetValue(threads), Configuration.DebertaConfig.FromPretrained(folder));
            return Run(folder, parse.GetValue(inputs)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(head)!);
        }));
        return cmd;
    }

    public static int Run(string modelDir, string inputsPath, string outputPath, string headName)
    {
        if (headName == HeadNames.Emd) return RunEnhancedMaskDecoder(modelDir, inputsPath, outputPath);
        using var net = AutoModel.FromPretrained(modelDir, HeadNames.Parse(headName));
        var tensors = ReadInputs(inputsPath);
        try
        {
            using var _ = no_grad();
            using var result = net.Forward(DebertaInputs.FromNamedTensors(tensors), outputHiddenStates: true, outputAttentions: true);
            using var scope = NewDisposeScope();
            var named = result.NamedTensors().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float32).cpu())).ToList();
            WriteAndReport(outputPath, named, net.ArchitectureName + ":");
            return 0;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>
    /// <c>--head emd</c>: the original DeBERTa pre-training head at the targets (labels &gt; 0), written under the names
    /// of the emd golden data: the encoder states, Z, each EMD step, EMD logits and loss, and, for comparison, HF's
    /// plain head at the same targets with its MLM loss (labels converted to −100 elsewhere).
    /// </summary>
    private static int RunEnhancedMaskDecoder(string modelDir, string inputsPath, string outputPath)
    {
        using var net = DebertaForMaskedLM.FromPretrained(modelDir);
        net.UseEnhancedMaskDecoder = true;   // a configuration error here names what is missing
        var tensors = ReadInputs(inputsPath, EmdInputNames);
        try
        {
            if (!tensors.TryGetValue("labels", out var original))
                throw new DebertaInputException($"{inputsPath} has no 'labels' tensor; --head emd needs it (original convention: token id > 0 at each target, 0 elsewhere).");
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var targets = original.gt(0);                                                    // [B, L]
            var hfLabels = original.to(ScalarType.Int64).masked_fill(targets.logical_not(), -100);
            if (tensors.TryGetValue("labels_hf", out var given) && !(given.shape.SequenceEqual(hfLabels.shape) && given.to(ScalarType.Int64).eq(hfLabels).all().item<bool>()))
                throw new DebertaInputException($"{inputsPath}: labels_hf does not match labels (label > 0 → the label, −100 elsewhere).");
            var batch = DebertaInputs.FromNamedTensors(tensors) with { Labels = hfLabels };
            using var emd = net.ForwardMaskedTargets(batch, targets, outputHiddenStates: true);
            using var plain = net.Forward(batch);
            var plainLogits = plain.Logits!;                                                  // [B, L, vocab]
            var named = new List<KeyValuePair<string, Tensor>> { new("embedding_output", emd.HiddenStates![0]) };
            for (int i = 1; i < emd.HiddenStates.Count; i++) named.Add(new($"encoder_layers.{i - 1}", emd.HiddenStates[i]));
            if (emd.PositionStates is not null) named.Add(new("position_embeddings_z", emd.PositionStates));
            for (int i = 0; i < emd.QueryStates.Count; i++) named.Add(new($"emd_query_layer.{i}", emd.QueryStates[i]));
            named.Add(new("emd_logits", emd.Logits));
            named.Add(new("emd_loss_per_token", emd.LossPerToken!));
            named.Add(new("emd_loss_mean", emd.Loss!));
            named.Add(new("hf_plain_mlm_logits_at_targets", plainLogits.reshape(-1, plainLogits.shape[^1]).index_select(0, emd.TargetIndex)));
            named.Add(new("hf_plain_mlm_loss", plain.Loss!));
            var written = named.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float32).cpu())).ToList();
            written.Add(new("emd_labels", emd.Labels!.to(ScalarType.Int64).cpu()));
            WriteAndReport(outputPath, written, $"{net.ArchitectureName} with the Enhanced Mask Decoder: {emd.TargetIndex.shape[0]} targets;");
            return 0;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Writes the tensors and prints one line each: the value of scalars, the shape of the rest.</summary>
    private static void WriteAndReport(string outputPath, List<KeyValuePair<string, Tensor>> tensors, string title)
    {
        SafetensorsWriter.Save(outputPath, tensors);
        Console.WriteLine($"{title} wrote {tensors.Count} tensors to {outputPath}");
        foreach (var (name, t) in tensors)
            Console.WriteLine(t.dim() == 0 ? $"  {name} = {t.item<float>():G6}" : $"  {name} {Shapes.Format(t.shape)}");
    }

    private static Dictionary<string, Tensor> ReadInputs(string path) => ReadInputs(path, InputNames);

    private static Dictionary<string, Tensor> ReadInputs(string path, string[] known)
    {
        using var file = SafetensorsFile.Open(path);
        var names = file.Entries.Select(e => e.Name).ToHashSet();
        if (!names.Contains("input_ids"))
            throw new DebertaInputException($"{path} has no 'input_ids' tensor (it has: {string.Join(", ", names)}).");
        var unknown = names.Except(known).ToList();
        if (unknown.Count > 0)
            throw new DebertaInputException($"{path} has tensors forward does not take with this head: {string.Join(", ", unknown)} (known: {string.Join(", ", known)}).");
        return names.ToDictionary(n => n, n => file.Read(n));
    }
}

/// <summary>CLI head names.</summary>
internal static class HeadNames
{
    /// <summary>Masked LM through the Enhanced Mask Decoder (a parity hook for the original code's outputs).</summary>
    public const string Emd = "emd";

    public static readonly string[] All =
        ["auto", "base", "masked-lm", "sequence-classification", "token-classification", "question-answering", "multiple-choice", Emd];

    public static HeadKind? Parse(string name) => name switch
    {
        "auto" => null,
        "base" => HeadKind.Base,
        "masked-lm" => HeadKind.MaskedLM,
        "sequence-classification" => HeadKind.SequenceClassification,
        "token-classification" => HeadKind.TokenClassification,
        "question-answering" => HeadKind.QuestionAnswering,
        "multiple-choice" => HeadKind.MultipleChoice,
        Emd => HeadKind.MaskedLM,
        _ => throw new DebertaSharpException($"Unknown head '{name}'; use one of {string.Join(", ", All)}."),
    };
}
