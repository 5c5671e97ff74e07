using System.CommandLine;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta classify</c>: text classification (single-label, multi-label or regression) of texts or pairs.</summary>
internal static class ClassifyCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var pair = new Option<string?>("--pair") { Description = "Second text of a pair (e.g. the hypothesis), used with every TEXT." };
        var topK = new Option<string?>("--top-k") { Description = "Labels per input, best first: a number or 'all' (default 1)." };
        var function = new Option<string?>("--function") { Description = "softmax | sigmoid | none (default: from the model's problem_type and number of labels, as HF)." };
        var texts = new Argument<string[]>("texts") { Arity = ArgumentArity.ZeroOrMore, Description = "Texts to classify." };
        var command = new Command("classify", "Classify texts (or text pairs) with a sequence-classification checkpoint; labels from id2label.") { pair, topK, function, texts };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "classify", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            var inputs = common.Texts(parse, texts, "TEXT");
            string? second = parse.GetValue(pair);
            var options = new TextClassificationOptions
            {
                TopK = parse.GetValue(topK) is "all" ? null : PipelineCli.Int(parse.GetValue(topK), "--top-k", 1) ?? 1,
                Function = parse.GetValue(function)?.ToLowerInvariant() switch
                {
                    null => null,
                    "softmax" => ClassificationFunction.Softmax,
                    "sigmoid" => ClassificationFunction.Sigmoid,
                    "none" => ClassificationFunction.None,
                    var f => throw new PipelineCli.UsageException($"--function '{f}' is not one of softmax, sigmoid, none."),
                },
            };

            using var classifier = TextClassificationPipeline.FromPretrained(folder);
            common.Configure(parse, classifier);
            var results = PipelineCli.WithProgress(error, inputs.Count, classifier.BatchSize * 4, "Classifying", (start, count) =>
                classifier.Classify(inputs.GetRange(start, count), second is null ? null : Enumerable.Repeat<string?>(second, count).ToList(), options));

            if (parse.GetValue(common.Json))
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    var line = new JsonObject { ["text"] = inputs[i] };
                    if (second is not null)
                    {
                        line["text_pair"] = second;
                    }

                    line["scores"] = new JsonArray(results[i].Select(s => (JsonNode)new JsonObject { ["label"] = s.Label, ["score"] = s.Score }).ToArray());
                    PipelineCli.WriteJsonLine(output, line);
                }

                return 0;
            }

            var table = new Table().AddColumns("Text", "Label", "Score");
            for (int i = 0; i < inputs.Count; i++)
            {
                for (int k = 0; k < results[i].Count; k++)
                {
                    table.AddRow(k == 0 ? PipelineCli.Text(inputs[i]) : "", PipelineCli.Text(results[i][k].Label), PipelineCli.Score(results[i][k].Score));
                }
            }

            PipelineCli.Tables(output).Write(table);
            return 0;
        }));
        return command;
    }
}
