using System.CommandLine;
using System.Text.Json;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Pipelines;
using DebertaSharp.Tests.Pipelines;
using Xunit;

namespace DebertaSharp.Tests.Cli;

/// <summary>The task commands in-process: exit codes, JSON Lines that match the pipelines, tables, user errors → 2.</summary>
public class PipelineCommandTests
{
    internal static (int Code, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand("test")
        {
            ClassifyCommand.Create(), ZeroShotCommand.Create(), NerCommand.Create(), QaCommand.Create(), FillMaskCommand.Create(),
            EmbedCommand.Create(), RerankCommand.Create(),
        };
        var output = new StringWriter();
        var error = new StringWriter();
        int code = DebertaSharp.Cli.DebertaCli.Invoke(root, args, new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    internal static JsonElement[] JsonLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();

    [Fact]
    public void ClassifyPrintsTheLabelsOfEveryText()
    {
        var (code, output, error) = Run("classify", "--model", TaskModels.Sentiment, "--top-k", "all", "--json", "A wonderful program.", "Broken.");
        Assert.True(code == 0, error);
        JsonElement[] lines = JsonLines(output);
        Assert.Equal(2, lines.Length);
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        var expected = classifier.Classify("Broken.", new TextClassificationOptions { TopK = null });
        Assert.Equal("Broken.", lines[1].GetProperty("text").GetString());
        var scores = lines[1].GetProperty("scores").EnumerateArray().ToArray();
        Assert.Equal(expected.Select(s => s.Label), scores.Select(s => s.GetProperty("label").GetString()));
        Assert.Equal(expected[0].Score, scores[0].GetProperty("score").GetSingle(), 5);   // batched with padding vs. alone
    }

    [Fact]
    public void ClassifyPairsAndTables()
    {
        var (code, output, error) = Run("classify", "--model", TaskModels.Sentiment, "--pair", "Some men play a sport.", "A soccer game.");
        Assert.True(code == 0, error);
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        LabelScore best = classifier.Classify("A soccer game.", "Some men play a sport.")[0];
        Assert.Contains("A soccer game.", output);
        Assert.Contains(best.Label, output);
        Assert.Contains(PipelineCli.Score(best.Score), output);
    }

    [Fact]
    public void ZeroShotPrintsHfShapedJson()
    {
        var (code, output, error) = Run("zero-shot", "--model", TaskModels.Nli, "--labels", "law, sports,cooking", "--multi-label", "--json", "The licence allows copying.");
        Assert.True(code == 0, error);
        JsonElement line = Assert.Single(JsonLines(output));
        using var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.Nli);
        ZeroShotResult expected = zs.Classify("The licence allows copying.", ["law", "sports", "cooking"], new ZeroShotOptions { MultiLabel = true });
        Assert.Equal("The licence allows copying.", line.GetProperty("sequence").GetString());
        Assert.Equal(expected.Labels.Select(l => l.Label), line.GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(expected.Labels.Select(l => l.Score), line.GetProperty("scores").EnumerateArray().Select(s => s.GetSingle()));
    }

    [Fact]
    public void NerPrintsEntitiesWithOffsetsIntoTheText()
    {
        const string text = "Ada Lovelace lived in London.";
        var (code, output, error) = Run("ner", "--model", TaskModels.Ner, "--ignore-labels", "", "--json", text);
        Assert.True(code == 0, error);
        JsonElement line = Assert.Single(JsonLines(output));
        var entities = line.GetProperty("entities").EnumerateArray().ToArray();
        Assert.NotEmpty(entities);
        foreach (JsonElement e in entities)
        {
            int start = e.GetProperty("start").GetInt32(), end = e.GetProperty("end").GetInt32();
            Assert.Equal(text[start..end], e.GetProperty("word").GetString());
            Assert.True(e.TryGetProperty("entity_group", out _));
        }

        var (code2, tokens, _) = Run("ner", "--model", TaskModels.Ner, "--aggregation", "none", "--json", text);
        Assert.Equal(0, code2);
        Assert.All(JsonLines(tokens)[0].GetProperty("entities").EnumerateArray(), e => Assert.True(e.TryGetProperty("index", out _)));
    }

    [Fact]
    public void QaAnswersEveryQuestionFromTheContext()
    {
        const string context = "Richard Stallman founded the Free Software Foundation in Boston in 1985.";
        string file = Path.Combine(Path.GetTempPath(), $"debertasharp-qa-{Guid.NewGuid():N}.txt");
        File.WriteAllText(file, "Who founded it?\n\nWhere?\n");
        try
        {
            var (code, output, error) = Run("qa", "--model", TaskModels.QuestionAnswering, "--context", context, "--input", file, "--top-k", "2", "--json", "When?");
            Assert.True(code == 0, error);
            JsonElement[] lines = JsonLines(output);
            Assert.Equal(["When?", "Who founded it?", "Where?"], lines.Select(l => l.GetProperty("question").GetString()));
            using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
            var expected = qa.Answer("Where?", context, new QuestionAnsweringOptions { TopK = 2 });
            var answers = lines[2].GetProperty("answers").EnumerateArray().ToArray();
            Assert.Equal(expected.Select(a => (a.Answer, a.Start, a.End)),
                answers.Select(a => (a.GetProperty("answer").GetString()!, a.GetProperty("start").GetInt32(), a.GetProperty("end").GetInt32())));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void FillMaskPrintsTopTokensAndSaysWhetherEmdWasUsed()
    {
        var (code, output, error) = Run("fill-mask", "--model", TaskModels.MaskedLMWithEmd, "--top-k", "3", "--json", "The [MASK] is free.");
        Assert.True(code == 0, error);
        JsonElement line = Assert.Single(JsonLines(output));
        Assert.True(line.GetProperty("enhanced_mask_decoder").GetBoolean());
        JsonElement mask = Assert.Single(line.GetProperty("masks").EnumerateArray().ToArray());
        Assert.Equal("[MASK]", "The [MASK] is free."[mask.GetProperty("start").GetInt32()..mask.GetProperty("end").GetInt32()]);
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.MaskedLMWithEmd);
        var expected = fill.Predict("The [MASK] is free.", new FillMaskOptions { TopK = 3 })[0].Predictions;
        Assert.Equal(expected.Select(p => p.TokenId), mask.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("token").GetInt32()));
        Assert.Equal(expected.Select(p => p.TokenString), mask.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("token_str").GetString()));

        var (tableCode, table, _) = Run("fill-mask", "--model", TaskModels.GoldenMaskedLM, "The [MASK] is free.");
        Assert.Equal(0, tableCode);
        Assert.Contains("plain masked-LM head", table);
    }

    public static TheoryData<string[], string> UserErrors() => new()
    {
        { ["classify", "text"], "--model" },
        { ["classify", "--model", "/nonexistent/model", "text"], "/nonexistent/model" },
        { ["classify", "--model", "SENTIMENT"], "Nothing to do" },
        { ["classify", "--model", "SENTIMENT", "--top-k", "zero", "x"], "--top-k" },
        { ["classify", "--model", "SENTIMENT", "--function", "tanh", "x"], "--function" },
        { ["classify", "--model", "SENTIMENT", "--batch-size", "0", "x"], "--batch-size" },
        { ["classify", "--model", "SENTIMENT", "--input", "/nonexistent/lines.txt"], "/nonexistent/lines.txt" },
        { ["classify", "--model", "NER", "x"], "SequenceClassification" },
        { ["zero-shot", "--model", "NLI", "x"], "--labels" },
        { ["zero-shot", "--model", "NLI", "--labels", " , ", "x"], "--labels" },
        { ["zero-shot", "--model", "NLI", "--labels", "a,b", "--template", "no slot", "x"], "{}" },
        { ["zero-shot", "--model", "SENTIMENT", "--labels", "a,b", "x"], "entail" },
        { ["ner", "--model", "NER", "--aggregation", "most", "x"], "--aggregation" },
        { ["ner", "--model", "NER", " "], "empty" },
        { ["qa", "--model", "QA", "Who?"], "--context" },
        { ["qa", "--model", "QA", "--context", " ", "Who?"], "context is empty" },
        { ["qa", "--model", "QA", "--context", "Some text.", "--max-seq-length", "6", "Who founded the foundation?"], "no room for the context" },
        { ["fill-mask", "--model", "MLM", "no mask here"], "[MASK]" },
        { ["fill-mask", "--model", "QA", "a [MASK]"], "MaskedLM" },
        { ["embed", "--model", "SENTIMENT"], "Nothing to do" },
        { ["embed", "--model", "SENTIMENT", "--pooling", "median", "x"], "--pooling 'median'" },
        { ["embed", "--model", "SENTIMENT", "--jsonl", "/nonexistent/texts.jsonl"], "/nonexistent/texts.jsonl" },
        { ["rerank", "--model", "REGRESSION", "doc"], "--query" },
        { ["rerank", "--model", "REGRESSION", "--query", "q"], "Nothing to do" },
        { ["rerank", "--model", "SENTIMENT", "--query", "q", "doc"], "entail" },
        { ["rerank", "--model", "REGRESSION", "--query", "q", "--top-k", "0", "doc"], "--top-k" },
    };

    [Theory]
    [MemberData(nameof(UserErrors))]
    public void UserErrorsExitWithTwoAndAMessage(string[] args, string message)
    {
        args = args.Select(a => a switch
        {
            "SENTIMENT" => TaskModels.Sentiment,
            "NER" => TaskModels.Ner,
            "NLI" => TaskModels.Nli,
            "QA" => TaskModels.QuestionAnswering,
            "MLM" => TaskModels.GoldenMaskedLM,
            "REGRESSION" => TaskModels.Regression,
            _ => a,
        }).ToArray();
        var (code, output, error) = Run(args);
        Assert.Equal(CliErrors.UserError, code);
        Assert.Equal("", output);
        Assert.StartsWith($"deberta {args[0]}: ", error);
        Assert.Contains(message, error);
        Assert.DoesNotContain("   at ", error);
    }
}
