using System.CommandLine;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta qa</c>: extractive question answering over one context.</summary>
internal static class QaCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var context = new Option<string?>("--context") { Description = "The text that holds the answers." };
        var contextFile = new Option<string?>("--context-file") { Description = "Read the context from this file instead." };
        var topK = new Option<string?>("--top-k") { Description = "Answers per question, best first (default 1)." };
        var maxAnswer = new Option<string?>("--max-answer-length") { Description = "Longest answer in tokens (default 15)." };
        var maxSeq = new Option<string?>("--max-seq-length") { Description = "Tokens per question + context window (default min(model limit, 384))." };
        var stride = new Option<string?>("--doc-stride") { Description = "Context tokens shared by consecutive windows (default min(window/2, 128))." };
        var impossible = new Option<bool>("--handle-impossible") { Description = "Allow the empty answer (no answer in the context)." };
        var questions = new Argument<string[]>("questions") { Arity = ArgumentArity.ZeroOrMore, Description = "Questions to answer from the context." };
        var command = new Command("qa", "Answer questions with spans of a context (question-answering checkpoint); long contexts are read in overlapping windows.")
        {
            context, contextFile, topK, maxAnswer, maxSeq, stride, impossible, questions,
        };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "qa", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            var inputs = common.Texts(parse, questions, "QUESTION");
            string text = (parse.GetValue(context), parse.GetValue(contextFile)) switch
            {
                ({ } c, null) => c,
                (null, { } path) => File.ReadAllText(path),
                (null, null) => throw new PipelineCli.UsageException("Give the context with --context TEXT or --context-file FILE."),
                _ => throw new PipelineCli.UsageException("Give either --context or --context-file, not both."),
            };
            var options = new QuestionAnsweringOptions
            {
                TopK = PipelineCli.Int(parse.GetValue(topK), "--top-k", 1) ?? 1,
                MaxAnswerLength = PipelineCli.Int(parse.GetValue(maxAnswer), "--max-answer-length", 1) ?? 15,
                MaxSequenceLength = PipelineCli.Int(parse.GetValue(maxSeq), "--max-seq-length", 4),
                DocStride = PipelineCli.Int(parse.GetValue(stride), "--doc-stride", 0),
                HandleImpossibleAnswer = parse.GetValue(impossible),
            };
            using var qa = QuestionAnsweringPipeline.FromPretrained(folder);
            common.Configure(parse, qa);
            var results = PipelineCli.WithProgress(error, inputs.Count, qa.BatchSize, "Answering", (start, count) =>
                qa.Answer(inputs.GetRange(start, count), Enumerable.Repeat(text, count).ToList(), options));

            if (parse.GetValue(common.Json))
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    var answers = results[i].Select(a => (JsonNode)new JsonObject { ["score"] = a.Score, ["start"] = a.Start, ["end"] = a.End, ["answer"] = a.Answer });
                    PipelineCli.WriteJsonLine(output, new JsonObject { ["question"] = inputs[i], ["answers"] = new JsonArray(answers.ToArray()) });
                }

                return 0;
            }

            var console = PipelineCli.Tables(output);
            for (int i = 0; i < inputs.Count; i++)
            {
                var table = new Table { Title = new TableTitle(PipelineCli.Text(inputs[i])) }.AddColumns("Answer", "Score", "Start", "End");
                foreach (QuestionAnswer a in results[i])
                {
                    table.AddRow(PipelineCli.Text(a.Answer), PipelineCli.Score(a.Score), a.Start.ToString(), a.End.ToString());
                }

                console.Write(table);
            }

            return 0;
        }));
        return command;
    }
}
