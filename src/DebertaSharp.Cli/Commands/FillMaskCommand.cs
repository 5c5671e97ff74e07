using System.CommandLine;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta fill-mask</c>: top-k tokens for every [MASK], through the Enhanced Mask Decoder when the checkpoint has it.</summary>
internal static class FillMaskCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var topK = new Option<string?>("--top-k") { Description = "Candidates per mask (default 5)." };
        var targets = new Option<string?>("--targets") { Description = "Only score these comma-separated tokens (pieces like ▁Paris or words that are one piece)." };
        var texts = new Argument<string[]>("texts") { Arity = ArgumentArity.ZeroOrMore, Description = "Texts with [MASK] where a token is to be predicted." };
        var command = new Command("fill-mask", "Predict the tokens behind [MASK] with a masked-LM checkpoint (Enhanced Mask Decoder when present).") { topK, targets, texts };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "fill-mask", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            var inputs = common.Texts(parse, texts, "TEXT with [MASK]");
            var options = new FillMaskOptions
            {
                TopK = PipelineCli.Int(parse.GetValue(topK), "--top-k", 1) ?? 5,
                Targets = parse.GetValue(targets)?.Split(',').Select(t => t.Trim()).Where(t => t.Length > 0).ToList(),
            };
            using var fill = FillMaskPipeline.FromPretrained(folder);
            common.Configure(parse, fill);
            var results = PipelineCli.WithProgress(error, inputs.Count, fill.BatchSize * 4, "Predicting", (start, count) =>
                fill.Predict(inputs.GetRange(start, count), options));

            if (parse.GetValue(common.Json))
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    var masks = results[i].Select(m => (JsonNode)new JsonObject
                    {
                        ["index"] = m.TokenIndex,
                        ["start"] = m.Span.Start,
                        ["end"] = m.Span.End,
                        ["predictions"] = new JsonArray(m.Predictions.Select(p => (JsonNode)new JsonObject
                        {
                            ["score"] = p.Score, ["token"] = p.TokenId, ["token_str"] = p.TokenString, ["sequence"] = p.Sequence,
                        }).ToArray()),
                    });
                    PipelineCli.WriteJsonLine(output, new JsonObject
                    {
                        ["text"] = inputs[i],
                        ["enhanced_mask_decoder"] = fill.UsesEnhancedMaskDecoder,
                        ["masks"] = new JsonArray(masks.ToArray()),
                    });
                }

                return 0;
            }

            var console = PipelineCli.Tables(output);
            console.WriteLine(fill.UsesEnhancedMaskDecoder ? "(Enhanced Mask Decoder)" : "(plain masked-LM head)");
            for (int i = 0; i < inputs.Count; i++)
            {
                foreach (MaskPredictions m in results[i])
                {
                    string title = results[i].Count == 1 ? inputs[i] : $"{inputs[i]} — mask at characters {m.Span.Start}–{m.Span.End}";
                    var table = new Table { Title = new TableTitle(PipelineCli.Text(title)) }.AddColumns("Token", "Score", "Sequence");
                    foreach (FillMaskPrediction p in m.Predictions)
                    {
                        table.AddRow(PipelineCli.Text(p.TokenString), PipelineCli.Score(p.Score), PipelineCli.Text(p.Sequence));
                    }

                    console.Write(table);
                }
            }

            return 0;
        }));
        return command;
    }
}
