using DebertaSharp.Tests.Training;
using Xunit;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// The short, fixed-seed run of <see cref="FuzzHarness"/> in the suite (replaces the earlier checkpoint-only
/// CorruptionFuzzTests, whose three inputs are targets here). The long run: see README, "Working on the readers".
/// </summary>
[Collection(SerialTorchRng.Name)]
public class FuzzHarnessTests
{
    public static TheoryData<string> TargetNames() => new(FuzzHarness.Targets.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void OnlyDebertaSharpExceptionsEscape(string target)
    {
        var log = new StringWriter();
        var report = FuzzHarness.Run(seed: 1234, casesPerTarget: 60, budget: TimeSpan.FromSeconds(4), only: [target], log: log);
        Assert.True(report.Findings.Count == 0, string.Join("\n", report.Findings.Select(f => $"{f.File} case {f.Case}: {f.Exception}")));
        Assert.True(report.Cases >= 10, $"only {report.Cases} cases ran");
        Assert.True(report.Refused > 0, "no mutation was refused: the mutator does nothing");
    }

    [Fact]
    public void MutationsAreReproducibleFromTheSeed()
    {
        var data = System.Text.Encoding.UTF8.GetBytes("{\"a\": 12, \"b\": \"text\"}");
        Assert.Equal(FuzzHarness.Mutate(data, new Random(7), text: true), FuzzHarness.Mutate(data, new Random(7), text: true));
    }
}

/// <summary>The README's long fuzz command names the built test assembly and parses; run here for two seconds.</summary>
[Collection(SerialTorchRng.Name)]
public class FuzzReadmeCommandTests
{
    [Fact]
    public void ReadmeFuzzCommandRuns()
    {
        string repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        string readme = File.ReadAllText(Path.Combine(repo, "README.md"));
        string line = readme.Split('\n').Single(l => l.StartsWith("dotnet tests/DebertaSharp.Tests/bin/", StringComparison.Ordinal) && l.Contains(" fuzz "));
        var words = line.Trim().Split(' ');
        Assert.Equal(Path.GetFullPath(typeof(Program).Assembly.Location), Path.GetFullPath(Path.Combine(repo, words[1])));
        var args = words[2..].ToArray();
        args[Array.IndexOf(args, "--seconds") + 1] = "2";
        var output = new StringWriter();
        Assert.Equal("fuzz", args[0]);
        Assert.Equal(0, FuzzHarness.RunFromCommandLine(args[1..], output));
        Assert.Contains("0 findings", output.ToString());
    }
}
