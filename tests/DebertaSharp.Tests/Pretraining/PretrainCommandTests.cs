using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using DebertaSharp.Checkpoints;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pretraining;

/// <summary><c>deberta pretrain</c> in-process and as a real process that gets killed.</summary>
[Collection(SerialTorchRng.Name)]
public class PretrainCommandTests
{
    private static readonly string[] Small =
    [
        "--config", Path.Combine(PretrainingSamples.TinyV3, "config.json"), "--corpus", PretrainingSamples.Corpus,
        "--batch-size", "4", "--max-length", "24", "--learning-rate", "2e-3", "--threads", "1", "--seed", "11",
    ];

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand("test") { PretrainCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        int code = DebertaSharp.Cli.DebertaCli.Invoke(root, ["pretrain", .. args], new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static Dictionary<string, Tensor> ReadAll(string folder)
    {
        using var reader = CheckpointReader.Open(folder);
        return reader.Keys.ToDictionary(k => k, k =>
        {
            var t = zeros(reader.GetEntry(k).Shape);
            reader.CopyInto(k, t);
            return t;
        });
    }

    private static void AssertSameFolders(string expected, string actual)
    {
        var a = ReadAll(expected);
        var b = ReadAll(actual);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (key, t) in a) Assert.True(t.eq(b[key]).all().item<bool>(), $"{key} differs in {actual}");
    }

    [Fact]
    public void ACorpusFolderGivesItsTextFilesAndTheRestIsListed()
    {
        // The tiny-v3 sample folder beside a copy of the corpus: config.json, spm.model, tokenizer JSON files are skipped.
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        string corpus = Path.Combine(tmp.Path, "corpus");
        Directory.CreateDirectory(corpus);
        foreach (string file in Directory.GetFiles(PretrainingSamples.TinyV3)) File.Copy(file, Path.Combine(corpus, Path.GetFileName(file)));
        File.Copy(PretrainingSamples.Corpus, Path.Combine(corpus, "corpus.txt"));
        var (code, output, error) = Run(["--config", Path.Combine(PretrainingSamples.TinyV3, "config.json"), "--corpus", corpus,
            "--batch-size", "4", "--max-length", "24", "--threads", "1", "--output", Path.Combine(tmp.Path, "out"), "--max-steps", "1", "--json"]);
        Assert.True(code == 0, error);
        Assert.Contains("read 1 corpus files", error);
        Assert.Contains(Path.Combine(corpus, "spm.model"), error);
        Assert.Contains(Path.Combine(corpus, "config.json") + ": extension '.json'", error);
        Assert.DoesNotContain(Path.Combine(corpus, "corpus.txt"), error);
    }

    [Fact]
    public void JsonSummaryThenResumeToMoreSteps()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        var (code, output, error) = Run([.. Small, "--output", tmp.Path, "--objective", "rtd", "--max-steps", "4", "--save-steps", "2", "--json"]);
        Assert.True(code == 0, error);
        using (var doc = JsonDocument.Parse(output))
        {
            var root = doc.RootElement;
            Assert.Equal("rtd", root.GetProperty("objective").GetString());
            Assert.True(root.GetProperty("completed").GetBoolean());
            Assert.Equal(4, root.GetProperty("steps").GetInt64());
            Assert.Equal(Path.Combine(tmp.Path, "checkpoint-4"), root.GetProperty("last_checkpoint").GetString());
            Assert.True(root.GetProperty("log_history")[0].GetProperty("rtd_loss").GetDouble() > 0);
        }
        Assert.True(File.Exists(Path.Combine(tmp.Path, "discriminator", "spm.model")));

        // Starting again over existing checkpoints needs --resume; with it the run continues from checkpoint-4.
        (code, _, error) = Run([.. Small, "--output", tmp.Path, "--objective", "rtd", "--max-steps", "6", "--json"]);
        Assert.Equal(CliErrors.UserError, code);
        Assert.Contains("--resume", error);
        (code, output, error) = Run(["--corpus", PretrainingSamples.Corpus, "--batch-size", "4", "--max-length", "24", "--learning-rate", "2e-3",
            "--threads", "1", "--seed", "11", "--output", tmp.Path, "--max-steps", "6", "--resume", "--json"]);
        Assert.True(code == 0, error);
        using (var doc = JsonDocument.Parse(output))
        {
            Assert.Equal(6, doc.RootElement.GetProperty("steps").GetInt64());
            Assert.Equal(2, doc.RootElement.GetProperty("steps_this_run").GetInt64());
            Assert.Equal(Path.Combine(tmp.Path, "checkpoint-4"), doc.RootElement.GetProperty("resumed_from").GetString());
        }
    }

    [Fact]
    public void ResumingKeepsSavingAfterSaveTotalLimitPrunesTheCheckpointItResumedFrom()
    {
        // Issue 13: each save copied spm.model from the resumed checkpoint; once --save-total-limit pruned it, the next save failed.
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        var (code, _, error) = Run([.. Small, "--output", tmp.Path, "--max-steps", "2", "--save-steps", "1", "--save-total-limit", "1"]);
        Assert.True(code == 0, error);
        Assert.Equal(["checkpoint-2"], Directory.GetDirectories(tmp.Path, "checkpoint-*").Select(Path.GetFileName));
        (code, _, error) = Run(["--corpus", PretrainingSamples.Corpus, "--batch-size", "4", "--max-length", "24", "--learning-rate", "2e-3",
            "--threads", "1", "--seed", "11", "--output", tmp.Path, "--max-steps", "5", "--save-steps", "1", "--save-total-limit", "1", "--resume"]);
        Assert.True(code == 0, error);
        Assert.Equal(["checkpoint-5"], Directory.GetDirectories(tmp.Path, "checkpoint-*").Select(Path.GetFileName));
        string last = Path.Combine(tmp.Path, "checkpoint-5");
        Assert.Equal(
            DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(PretrainingSamples.TinyV3).Encode("the licence").InputIds,
            DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(last).Encode("the licence").InputIds);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "spm.model")));
    }

    [Fact]
    public void AKilledProcessResumesToTheWeightsOfAnUninterruptedRun()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        string straight = Path.Combine(tmp.Path, "straight");
        string[] run = [.. Small, "--objective", "rtd", "--max-steps", "24", "--json"];
        var (code, _, error) = Run([.. run, "--output", straight, "--save-steps", "24"]);
        Assert.True(code == 0, error);

        // A real `deberta pretrain` process writing a checkpoint every step, killed (SIGKILL) once checkpoint-2 exists.
        // On a very busy machine it may finish first; then the experiment is repeated in a new folder.
        string killed = "";
        for (int attempt = 0; attempt < 3 && killed.Length == 0; attempt++)
        {
            string folder = Path.Combine(tmp.Path, $"killed-{attempt}");
            if (KillMidRun([.. run, "--output", folder, "--save-steps", "1"], Path.Combine(folder, "checkpoint-2"))) killed = folder;
        }
        Assert.True(killed.Length > 0, "three runs finished before they could be killed");
        long interruptedAt = DebertaSharp.Training.TrainingCheckpoint.ReadState(DebertaSharp.Pretraining.Pretrainer.LatestCheckpoint(killed)!).GlobalStep;
        Assert.InRange(interruptedAt, 2, 23);

        (code, _, error) = Run([.. run, "--output", killed, "--save-steps", "24", "--resume"]);
        Assert.True(code == 0, error);
        AssertSameFolders(Path.Combine(straight, "generator"), Path.Combine(killed, "generator"));
        AssertSameFolders(Path.Combine(straight, "discriminator"), Path.Combine(killed, "discriminator"));
    }

    /// <summary>Starts the CLI as a process and kills it when <paramref name="signal"/> appears; false if it finished first.</summary>
    private static bool KillMidRun(string[] args, string signal)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "deberta.dll"), "pretrain", .. args]) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var clock = Stopwatch.StartNew();
        while (!Directory.Exists(signal) && !process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) Thread.Sleep(1);
        if (process.HasExited)
        {
            Assert.True(process.ExitCode == 0, "the process failed: " + process.StandardError.ReadToEnd());
            return false;
        }
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        string output = Path.GetDirectoryName(signal)!;
        return !File.Exists(Path.Combine(output, "discriminator", "config.json"));
    }

    [Theory]
    [InlineData("both")]
    [InlineData("neither")]
    [InlineData("objective")]
    [InlineData("resume-empty")]
    [InlineData("no-tokenizer")]
    public void UsageErrorsExitWithTwoAndSayWhy(string problem)
    {
        using var tmp = new TempDir();
        string config = Path.Combine(PretrainingSamples.TinyV3, "config.json");
        string lonelyConfig = Path.Combine(tmp.Path, "config.json");
        File.Copy(config, lonelyConfig);
        string[] common = ["--corpus", PretrainingSamples.Corpus, "--output", Path.Combine(tmp.Path, "out")];
        var (args, expected) = problem switch
        {
            "both" => (new[] { "--config", config, "--model", PretrainingSamples.TinyV3 }, "exactly one of --model"),
            "neither" => ([], "exactly one of --model"),
            "objective" => (["--config", config, "--objective", "electra"], "mlm or rtd"),
            "resume-empty" => (["--resume"], "holds no checkpoint"),
            _ => (["--config", lonelyConfig], "--tokenizer"),
        };
        var (code, _, error) = Run([.. common, .. args]);
        Assert.Equal(CliErrors.UserError, code);
        Assert.Contains(expected, error);
    }
}

/// <summary>The pre-training example of README.md, run from the repository root as written.</summary>
[Collection(SerialTorchRng.Name)]
public class PretrainingReadmeExampleTests
{
    [Fact]
    public void ReadmeExampleRunsAndResumes()
    {
        using var threads = new SingleTorchThread();
        using var tmp = new TempDir();
        string repo = Path.GetFullPath(Path.Combine(PretrainingSamples.Root, "..", ".."));
        string Repo(string relative) => Path.Combine(repo, relative);
        string output = Path.Combine(tmp.Path, "pretrain-api-output");

        DebertaSharp.Pretraining.PretrainingResult Example(Action<CancellationTokenSource>? whileRunning = null)
        {
            DebertaSharp.Training.TrainingSeed.Set(42);
            using var model = DebertaSharp.Pretraining.RtdPretrainingModel.Create(DebertaSharp.Configuration.DebertaConfig.FromPretrained(Repo("samples/pretraining/tiny-v3")));
            var trainer = new DebertaSharp.Pretraining.Pretrainer(model, DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(Repo("samples/pretraining/tiny-v3")),
                new DebertaSharp.Pretraining.TextCorpus([Repo("samples/pretraining/corpus.txt")]), output,
                new DebertaSharp.Pretraining.PretrainingOptions { MaxSteps = 20, LearningRate = 2e-3, SaveSteps = 10, Seed = 42 });
            using var stop = new CancellationTokenSource();
            var progress = new ProgressLog(p => { if (p.Step == 13) whileRunning?.Invoke(stop); });
            return trainer.Run(progress, resumeFrom: DebertaSharp.Pretraining.Pretrainer.LatestCheckpoint(output), cancellationToken: stop.Token);
        }

        // The snippet writes to a folder of its own: run after the CLI example, it must not resume that run's checkpoints.
        string readme = File.ReadAllText(Repo("README.md"));
        int snippet = readme.IndexOf("new Pretrainer(", StringComparison.Ordinal);
        string snippetText = readme[snippet..readme.IndexOf("```", snippet, StringComparison.Ordinal)];
        Assert.Contains("\"pretrain-api-output\"", snippetText);
        Assert.Contains("LatestCheckpoint(\"pretrain-api-output\")", snippetText);
        var bashBlocks = System.Text.RegularExpressions.Regex.Matches(readme, "```bash\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.DoesNotContain(bashBlocks, b => b.Value.Contains("pretrain-api-output", StringComparison.Ordinal));

        var first = Example(stop => stop.Cancel());
        Assert.False(first.Completed);
        Assert.Equal(13, first.Steps);
        var second = Example();
        Assert.True(second.Completed);
        Assert.Equal(20, second.Steps);
        Assert.EndsWith("checkpoint-13", second.ResumedFrom);
    }
}
