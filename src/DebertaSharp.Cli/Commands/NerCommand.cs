using System.CommandLine;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta ner</c>: token classification / named entities with character offsets.</summary>
internal static class NerCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var aggregation = new Option<string?>("--aggregation") { Description = "none | simple | first | average | max (default first: whole words, then B-/I- grouping): how tokens become entities." };
        var ignore = new Option<string?>("--ignore-labels") { Description = "Comma-separated labels left out (default O); --ignore-labels '' keeps all." };
        var stride = new Option<string?>("--stride") { Description = "Tokens shared by the windows of a text longer than the model takes (default 32)." };
        var texts = new Argument<string[]>("texts") { Arity = ArgumentArity.ZeroOrMore, Description = "Texts to label." };
        var command = new Command("ner", "Label tokens and group them into entities (token-classification checkpoint); offsets index the original text.")
        {
            aggregation, ignore, stride, texts,
        };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "ner", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            var inputs = common.Texts(parse, texts, "TEXT");
            var options = new TokenClassificationOptions
            {
                Aggregation = (parse.GetValue(aggregation) ?? "first").ToLowerInvariant() switch
                {
                    "none" => AggregationStrategy.None,
                    "simple" => AggregationStrategy.Simple,
                    "first" => AggregationStrategy.First,
                    "average" => AggregationStrategy.Average,
                    "max" => AggregationStrategy.Max,
                    var a => throw new PipelineCli.UsageException($"--aggregation '{a}' is not one of none, simple, first, average, max."),
                },
                IgnoreLabels = parse.GetValue(ignore) is { } list
                    ? list.Split(',').Select(l => l.Trim()).Where(l => l.Length > 0).ToList()
                    : ["O"],
                Stride = PipelineCli.Int(parse.GetValue(stride), "--stride", 0) ?? 32,
            };
            bool grouped = options.Aggregation != AggregationStrategy.None;
            using var ner = TokenClassificationPipeline.FromPretrained(folder);
            common.Configure(parse, ner);
            var results = PipelineCli.WithProgress(error, inputs.Count, ner.BatchSize * 4, "Labelling", (start, count) =>
                ner.Recognize(inputs.GetRange(start, count), options));

            if (parse.GetValue(common.Json))
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    var entities = results[i].Select(e =>
                    {
                        var o = new JsonObject { [grouped ? "entity_group" : "entity"] = e.Entity, ["score"] = e.Score, ["word"] = e.Word, ["start"] = e.Start, ["end"] = e.End };
                        if (e.TokenIndex is int index)
                        {
                            o["index"] = index;
                        }

                        return (JsonNode)o;
                    });
                    PipelineCli.WriteJsonLine(output, new JsonObject { ["text"] = inputs[i], ["entities"] = new JsonArray(entities.ToArray()) });
                }

                return 0;
            }

            var console = PipelineCli.Tables(output);
            for (int i = 0; i < inputs.Count; i++)
            {
                var table = new Table { Title = new TableTitle(PipelineCli.Text(inputs[i])) }.AddColumns(grouped ? "Entity" : "Label", "Word", "Start", "End", "Score");
                foreach (TokenEntity e in results[i])
                {
                    table.AddRow(PipelineCli.Text(e.Entity), PipelineCli.Text(e.Word), e.Start.ToString(), e.End.ToString(), PipelineCli.Score(e.Score));
                }

                console.Write(table);
            }

            return 0;
        }));
        return command;
    }
}
