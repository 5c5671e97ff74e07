using System.CommandLine;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta zero-shot</c>: rank candidate labels for texts with an NLI checkpoint.</summary>
internal static class ZeroShotCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var labels = new Option<string?>("--labels") { Description = "Candidate labels, comma-separated: --labels sports,politics,technology." };
        var template = new Option<string?>("--template") { Description = $"Hypothesis with {{}} for the label (default '{ZeroShotOptions.DefaultHypothesisTemplate}')." };
        var multiLabel = new Option<bool>("--multi-label") { Description = "Score each label on its own (entailment vs. contradiction) instead of one softmax over the labels." };
        var texts = new Argument<string[]>("texts") { Arity = ArgumentArity.ZeroOrMore, Description = "Texts to classify." };
        var command = new Command("zero-shot", "Zero-shot classification through an NLI checkpoint: each label becomes a hypothesis, scored by entailment.")
        {
            labels, template, multiLabel, texts,
        };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "zero-shot", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            var inputs = common.Texts(parse, texts, "TEXT");
            var candidates = ZeroShotClassificationPipeline.ParseLabels(parse.GetValue(labels) ?? "");
            if (candidates.Count == 0)
            {
                throw new PipelineCli.UsageException("--labels is empty: give the candidate labels, e.g. --labels sports,politics,technology.");
            }

            var options = new ZeroShotOptions
            {
                HypothesisTemplate = parse.GetValue(template) ?? ZeroShotOptions.DefaultHypothesisTemplate,
                MultiLabel = parse.GetValue(multiLabel),
            };
            using var zeroShot = ZeroShotClassificationPipeline.FromPretrained(folder);
            common.Configure(parse, zeroShot);
            int chunk = Math.Max(1, zeroShot.BatchSize * 4 / candidates.Count);
            var results = PipelineCli.WithProgress(error, inputs.Count, chunk, "Classifying", (start, count) =>
                zeroShot.Classify(inputs.GetRange(start, count), candidates, options));

            if (parse.GetValue(common.Json))
            {
                foreach (ZeroShotResult r in results)
                {
                    PipelineCli.WriteJsonLine(output, new JsonObject
                    {
                        ["sequence"] = r.Sequence,
                        ["labels"] = new JsonArray(r.Labels.Select(l => (JsonNode)JsonValue.Create(l.Label)).ToArray()),
                        ["scores"] = new JsonArray(r.Labels.Select(l => (JsonNode)JsonValue.Create(l.Score)).ToArray()),
                    });
                }

                return 0;
            }

            var console = PipelineCli.Tables(output);
            foreach (ZeroShotResult r in results)
            {
                var table = new Table { Title = new TableTitle(PipelineCli.Text(r.Sequence)) }.AddColumns("Label", "Score");
                foreach (LabelScore l in r.Labels)
                {
                    table.AddRow(PipelineCli.Text(l.Label), PipelineCli.Score(l.Score));
                }

                console.Write(table);
            }

            return 0;
        }));
        return command;
    }
}
