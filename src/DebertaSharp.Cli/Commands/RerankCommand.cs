using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta rerank</c>: cross-encoder scores of documents for a query, best first.</summary>
internal static class RerankCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var query = new Option<string?>("--query") { Description = "The query every document is scored against (never truncated)." };
        var jsonl = new Option<string?>("--jsonl") { Description = "JSON Lines file of {\"text\": …} documents, used with or instead of the arguments." };
        var topK = new Option<string?>("--top-k") { Description = "Documents to print, best first (default all)." };
        var raw = new Option<bool>("--raw") { Description = "Score with the raw logit instead of the sigmoid / class probability." };
        var label = new Option<string?>("--label") { Description = "For a checkpoint with several labels: the label2id class meaning relevant (default: the one starting with 'entail')." };
        var documents = new Argument<string[]>("documents") { Arity = ArgumentArity.ZeroOrMore, Description = "Documents to rerank." };
        var command = new Command("rerank", "Rerank documents for a query with a cross-encoder (sequence-classification) checkpoint.")
        {
            query, jsonl, topK, raw, label, documents,
        };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "rerank", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            string q = parse.GetValue(query) is { Length: > 0 } given ? given : throw new PipelineCli.UsageException("--query TEXT is required.");
            var docs = common.Texts(parse, documents, "DOC, --jsonl FILE", parse.GetValue(jsonl) is { } path ? PipelineCli.JsonlTexts(path) : null);
            var options = new RerankOptions
            {
                TopK = PipelineCli.Int(parse.GetValue(topK), "--top-k", 1),
                RawScores = parse.GetValue(raw),
                Label = parse.GetValue(label),
            };

            using var reranker = RerankPipeline.FromPretrained(folder);
            common.Configure(parse, reranker);
            IReadOnlyList<RankedDocument> ranked = reranker.Rerank(q, docs, options);

            if (parse.GetValue(common.Json))
            {
                foreach (RankedDocument d in ranked)
                {
                    PipelineCli.WriteJsonLine(output, new JsonObject { ["index"] = d.Index, ["score"] = d.Score, ["text"] = d.Text });
                }

                return 0;
            }

            var table = new Table().AddColumns("Rank", "Index", "Score", "Document");
            for (int r = 0; r < ranked.Count; r++)
            {
                RankedDocument d = ranked[r];
                table.AddRow((r + 1).ToString(CultureInfo.InvariantCulture), d.Index.ToString(CultureInfo.InvariantCulture), PipelineCli.Score(d.Score), PipelineCli.Text(d.Text));
            }

            PipelineCli.Tables(output).Write(table);
            return 0;
        }));
        return command;
    }
}
