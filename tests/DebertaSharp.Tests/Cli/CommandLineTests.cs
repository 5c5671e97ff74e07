using System.CommandLine;
using DebertaSharp.Cli;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Pipelines;
using DebertaSharp.Tests.Training;
using Xunit;

namespace DebertaSharp.Tests.Cli;

/// <summary>
/// The rules every <c>deberta</c> command follows, through the real command tree: unknown options are usage errors
/// (exit 2, one short line on stderr naming the option, no help), texts starting with '-' go after '--', required
/// options are marked, and a bad --model path says what is wrong with it.
/// </summary>
public class CommandLineTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = DebertaCli.Invoke(DebertaCli.CreateRoot(), args, new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Every command path of the tree (<c>forward</c>, <c>bench</c>, <c>bench model</c>, …), so commands added later are covered.</summary>
    public static TheoryData<string> Commands() => new(CommandPaths());

    private static List<string> CommandPaths()
    {
        var data = new List<string>();
        void Walk(Command command, string path)
        {
            foreach (Command sub in command.Subcommands)
            {
                string name = path.Length == 0 ? sub.Name : path + " " + sub.Name;
                data.Add(name);
                Walk(sub, name);
            }
        }

        Walk(DebertaCli.CreateRoot(), "");
        return data;
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void BogusOptionExitsWithTwoAndNamesIt(string command)
    {
        var (code, output, error) = Run([.. command.Split(' '), "--bogus"]);
        Assert.Equal(2, code);
        Assert.Contains("--bogus", error);
        Assert.DoesNotContain("Usage:", error + output);
        Assert.Equal("", output);
        Assert.True(error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 2, error);
    }

    [Theory]
    [InlineData("forward")]
    [InlineData("classify")]
    [InlineData("zero-shot")]
    [InlineData("ner")]
    [InlineData("qa")]
    [InlineData("fill-mask")]
    [InlineData("finetune")]
    [InlineData("pretrain")]
    [InlineData("bench model")]
    [InlineData("bench train")]
    public void EveryModelRunningCommandTakesThreads(string path)
    {
        Command command = DebertaCli.CreateRoot();
        foreach (string name in path.Split(' '))
        {
            command = command.Subcommands.Single(c => c.Name == name);
        }

        Assert.Contains(command.Options, o => o.Name == "--threads");
    }

    [Fact]
    public void TheTreeHasTheDocumentedCommands()
    {
        var names = CommandPaths();
        Assert.Contains("classify", names);
        Assert.Contains("bench model", names);
        Assert.True(names.Count >= 15, string.Join(", ", names));
    }

    [Theory]
    [InlineData("classify", "--bogus-flag", "x")]
    [InlineData("ner", "--agregation", "first", "Ada lived in London.")]
    [InlineData("qa", "--context", "Ada lived in London.", "--topk", "2", "Where?")]
    [InlineData("zero-shot", "--labels", "a,b", "-x", "text")]
    [InlineData("fill-mask", "--topk", "2", "The [MASK] is free.")]
    public void UnknownOptionsOfTextCommandsAreErrorsNotTexts(params string[] args)
    {
        string model = args[0] switch
        {
            "classify" => TaskModels.Sentiment,
            "ner" => TaskModels.Ner,
            "qa" => TaskModels.QuestionAnswering,
            "zero-shot" => TaskModels.Nli,
            _ => TaskModels.MaskedLMWithEmd,
        };
        var (code, output, error) = Run([args[0], "--model", model, .. args[1..]]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        string unknown = args.First(a => a.StartsWith('-') && a is not "--context" and not "--labels");
        Assert.Contains($"unknown option '{unknown}'", error);
        Assert.Contains("'--'", error);
    }

    [Fact]
    public void TextsStartingWithADashGoAfterDoubleDash()
    {
        var (code, output, error) = Run("classify", "--model", TaskModels.Sentiment, "--json", "--", "--bogus-flag", "-x");
        Assert.True(code == 0, error);
        Assert.Contains("\"text\":\"--bogus-flag\"", output);
        Assert.Contains("\"text\":\"-x\"", output);
    }

    [Fact]
    public void ParserErrorsAreShortAndExitWithTwo()
    {
        var (code, output, error) = Run("classify", "A text.");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("deberta classify: ", error);
        Assert.Contains("--model", error);
        Assert.DoesNotContain("Usage:", error);

        (code, output, error) = Run("classify", "--model", TaskModels.Sentiment, "--batch-size");
        Assert.Equal(2, code);
        Assert.Contains("--batch-size", error);

        (code, _, error) = Run("finetune", "--model", TaskModels.Sentiment, "--task", "text-classification", "--train", "t.csv", "--output", "o", "--epochs", "many");
        Assert.Equal(2, code);
        Assert.Contains("many", error);

        (code, _, error) = Run("nosuchcommand");
        Assert.Equal(2, code);
        Assert.Contains("nosuchcommand", error);
    }

    [Fact]
    public void HelpOnlyWithHelpAndModelShownAsRequired()
    {
        var (code, output, _) = Run("classify", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage:", output);
        Assert.Matches(@"--model <model>\s+\(REQUIRED\)", output);
    }

    [Fact]
    public void ModelPathErrorsSayWhatIsWrongWithThePath()
    {
        string root = Path.Combine(Path.GetTempPath(), "debertasharp-cli-paths-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            string missing = Path.Combine(root, "nonexistent");
            string file = Path.Combine(root, "notamodel.txt");
            File.WriteAllText(file, "x");
            string empty = Path.Combine(root, "empty");
            Directory.CreateDirectory(empty);
            string noTokenizer = Path.Combine(root, "no-tokenizer");
            Directory.CreateDirectory(noTokenizer);
            File.Copy(Path.Combine(TaskModels.Sentiment, "config.json"), Path.Combine(noTokenizer, "config.json"));

            foreach (var (path, expected) in new[]
                     {
                         (missing, "no such folder"), (file, "is a file, not a checkpoint folder"),
                         (empty, "has no config.json"), (noTokenizer, "has no tokenizer files"),
                     })
            {
                var (code, output, error) = Run("classify", "--model", path, "text");
                Assert.Equal(2, code);
                Assert.Equal("", output);
                Assert.Contains($"--model '{path}'", error);
                Assert.Contains(expected, error);
            }

            // A command that needs no tokenizer takes the folder with config.json only; info checks its argument too.
            Assert.Contains("is a file", Run("info", file).Error);
            Assert.Contains("has no config.json", Run("forward", "--model", empty, "--inputs", file, "--output", file).Error);
            Assert.Contains("no such folder", Run("pretrain", "--model", missing, "--corpus", file, "--output", root).Error);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

/// <summary>The thread default is applied by the commands (serial: torch's thread count is process-wide).</summary>
[Collection(SerialTorchRng.Name)]
public class CommandLineThreadTests
{
    [Fact]
    public void SmallModelsRunOnOneThreadLargeOnesOnEveryCore()
    {
        Assert.Equal(1, TorchThreads.For(DebertaConfig.FromPretrained(TaskModels.Sentiment)));
        Assert.Equal(Environment.ProcessorCount, TorchThreads.For(DebertaSharp.Diagnostics.BenchmarkModels.DebertaV3Base()));
    }

    [Fact]
    public void TaskCommandsSetTheDefaultOrTheGivenThreadCount()
    {
        int before = TorchSharp.torch.get_num_threads();
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var config = new InvocationConfiguration { Output = output, Error = error };
            TorchSharp.torch.set_num_threads(2);
            Assert.Equal(0, DebertaCli.Invoke(DebertaCli.CreateRoot(), ["classify", "--model", TaskModels.Sentiment, "--json", "A text."], config));
            Assert.Equal(1, TorchSharp.torch.get_num_threads());
            Assert.Equal(0, DebertaCli.Invoke(DebertaCli.CreateRoot(), ["classify", "--model", TaskModels.Sentiment, "--threads", "2", "--json", "A text."], config));
            Assert.Equal(2, TorchSharp.torch.get_num_threads());
            Assert.Equal(2, DebertaCli.Invoke(DebertaCli.CreateRoot(), ["classify", "--model", TaskModels.Sentiment, "--threads", "0", "A text."], config));
            Assert.Contains("--threads", error.ToString());
        }
        finally
        {
            TorchSharp.torch.set_num_threads(before);
        }
    }
}
