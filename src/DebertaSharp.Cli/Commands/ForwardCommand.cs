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

    public static Command Create()
    {
        var model = CliErrors.ModelOption();
        var inputs = new Option<FileInfo>("--inputs") { Description = "safetensors file with int64 input_ids [B,L] ([B,C,L] for multiple choice) and optional attention_mask, token_type_ids, labels, start_positions, end_positions.", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "safetensors file to write.", Required = true };
        var head = new Option<string>("--head")
        {
            Description = "Which head to run: auto (from config.json architectures), base, masked-lm, sequence-classification, token-classification, question-answering, multiple-choice.",
            DefaultValueFactory = _ => "auto",
        };
        head.AcceptOnlyFromAmong(HeadNames.All);
        var cmd = new Command("forward", "Run a checkpoint on inputs.safetensors and write all outputs to a safetensors file.") { model, inputs, output, head };
        cmd.SetAction(parse => CliErrors.Run(() =>
            Run(parse.GetValue(model)!.FullName, parse.GetValue(inputs)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(head)!)));
        return cmd;
    }

    public static int Run(string modelDir, string inputsPath, string outputPath, string headName)
    {
        using var net = AutoModel.FromPretrained(modelDir, HeadNames.Parse(headName));
        var tensors = ReadInputs(inputsPath);
        try
        {
            var batch = new DebertaInputs(tensors["input_ids"])
            {
                AttentionMask = tensors.GetValueOrDefault("attention_mask"),
                TokenTypeIds = tensors.GetValueOrDefault("token_type_ids"),
                PositionIds = tensors.GetValueOrDefault("position_ids"),
                Labels = tensors.GetValueOrDefault("labels"),
                StartPositions = tensors.GetValueOrDefault("start_positions"),
                EndPositions = tensors.GetValueOrDefault("end_positions"),
            };
            using var _ = no_grad();
            using var result = net.Forward(batch, outputHiddenStates: true, outputAttentions: true);
            using var scope = NewDisposeScope();
            var named = result.NamedTensors().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float32).cpu())).ToList();
            SafetensorsWriter.Save(outputPath, named);
            Console.WriteLine($"{net.ArchitectureName}: wrote {named.Count} tensors to {outputPath}");
            foreach (var (name, t) in named)
                Console.WriteLine(t.dim() == 0 ? $"  {name} = {t.item<float>():G6}" : $"  {name} [{string.Join(", ", t.shape)}]");
            return 0;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static Dictionary<string, Tensor> ReadInputs(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var names = file.Entries.Select(e => e.Name).ToHashSet();
        if (!names.Contains("input_ids"))
            throw new DebertaInputException($"{path} has no 'input_ids' tensor (it has: {string.Join(", ", names)}).");
        var unknown = names.Except(InputNames).ToList();
        if (unknown.Count > 0)
            throw new DebertaInputException($"{path} has tensors forward does not take: {string.Join(", ", unknown)} (known: {string.Join(", ", InputNames)}).");
        return names.ToDictionary(n => n, n => file.Read(n));
    }
}

/// <summary>CLI head names.</summary>
internal static class HeadNames
{
    public static readonly string[] All =
        ["auto", "base", "masked-lm", "sequence-classification", "token-classification", "question-answering", "multiple-choice"];

    public static HeadKind? Parse(string name) => name switch
    {
        "auto" => null,
        "base" => HeadKind.Base,
        "masked-lm" => HeadKind.MaskedLM,
        "sequence-classification" => HeadKind.SequenceClassification,
        "token-classification" => HeadKind.TokenClassification,
        "question-answering" => HeadKind.QuestionAnswering,
        "multiple-choice" => HeadKind.MultipleChoice,
        _ => throw new DebertaSharpException($"Unknown head '{name}'; use one of {string.Join(", ", All)}."),
    };
}
