using DebertaSharp.Cli.Commands;
using DebertaSharp.Tests.GoldenData;
using Xunit;

namespace DebertaSharp.Tests.Cli;

/// <summary>Parity through the CLI: `deberta forward` output files against every golden expected.safetensors.</summary>
public class ForwardCommandTests
{
    [Theory]
    [MemberData(nameof(GoldenCase.ModelCases), MemberType = typeof(GoldenCase))]
    public void ForwardWritesReferenceTensors(string name)
    {
        var golden = new GoldenCase(name);
        string outPath = Path.Combine(Path.GetTempPath(), $"deberta-forward-{Guid.NewGuid():N}.safetensors");
        try
        {
            Assert.Equal(0, ForwardCommand.Run(golden.Folder, Path.Combine(golden.Folder, "inputs.safetensors"), outPath, "auto"));
            var actual = GoldenCase.ReadAll(outPath);
            foreach (var (key, diff, limit) in Parity.CompareForward(actual, golden.Expected(), golden.Inputs()["attention_mask"]))
                Assert.True(diff <= limit, $"{name} {key}: max|Δ| {diff:E3} > {limit:E3}");
        }
        finally
        {
            File.Delete(outPath);
        }
    }

    [Fact]
    public void MissingModelFolderIsAUserError()
    {
        var root = new System.CommandLine.RootCommand { ForwardCommand.Create() };
        var err = new StringWriter();
        var saved = Console.Error;
        Console.SetError(err);
        try
        {
            int code = DebertaSharp.Cli.DebertaCli.Invoke(root, ["forward", "--model", "/nonexistent/model", "--inputs", "/nonexistent/in.safetensors", "--output", "/tmp/x.safetensors"], new System.CommandLine.InvocationConfiguration { Error = err });
            Assert.Equal(CliErrors.UserError, code);
            Assert.Contains("/nonexistent/model", err.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }
}
