using System.Text.Json.Nodes;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Tests.GoldenData;
using Xunit;

namespace DebertaSharp.Tests.Cli;

/// <summary>
/// `deberta bench` on a tiny checkpoint: every command runs and prints its table or JSON line (no timing is checked:
/// timings belong to the benchmark program). Serial: the commands write to the process's console.
/// </summary>
[Collection(DebertaSharp.Tests.Training.SerialTorchRng.Name)]
public class BenchCommandTests
{
    private static readonly string Model = new GoldenCase("deberta-v3").Folder;

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var root = new System.CommandLine.RootCommand { BenchCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var (savedOut, savedError) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (DebertaSharp.Cli.DebertaCli.Invoke(root, args, new System.CommandLine.InvocationConfiguration { Output = output, Error = error }), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }

    private static JsonObject LastJson(string output) =>
        JsonNode.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{')))!.AsObject();

    [Fact]
    public void TokenizerPrintsOneThreadAndAllCoreThroughput()
    {
        string albert = DebertaSharp.Tests.Tokenization.GoldenData.Folder(DebertaSharp.Tests.Tokenization.TokenizerRealGoldenTests.Albert);
        var (code, output, error) = Run("bench", "tokenizer", "--model", albert, "--sentences", "100", "--repeats", "1");
        Assert.True(code == 0, error);
        Assert.Contains("DebertaV2Tokenizer (albert30k): 100 sentences", output);
        Assert.Matches(@"one thread, Encode per sentence: [\d.]+ ms = [\d,]+ tokens/s, [\d,]+ sentences/s", output);
        Assert.Matches(@"EncodeBatch on \d+ cores: [\d.]+ ms = [\d,]+ tokens/s", output);
    }

    [Fact]
    public void ModelPrintsForwardAndFloorPerShape()
    {
        var (code, output, error) = Run("bench", "model", "--model", Model, "--shapes", "1x8,2x5", "--pairs", "1", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Contains("| 1×8 | fast | float32 |", output);
        Assert.Contains("| 2×5 | fast | float32 |", output);
    }

    [Fact]
    public void MemoryTrainAndLoadPrintOneJsonLine()
    {
        var (code, output, error) = Run("bench", "memory", "--model", Model, "--shape", "1x16", "--implementation", "reference", "--threads", "1");
        Assert.True(code == 0, error);
        var memory = LastJson(output);
        Assert.Equal("reference", memory["implementation"]!.GetValue<string>());
        Assert.True(memory["peak_rss_mb"]!.GetValue<double>() > 0);

        (code, output, error) = Run("bench", "train", "--model", Model, "--shape", "2x8", "--steps", "1", "--checkpointing", "--threads", "1");
        Assert.True(code == 0, error);
        var train = LastJson(output);
        Assert.True(train["gradient_checkpointing"]!.GetValue<bool>());
        Assert.Equal("DebertaSharp.Training.AdamW", train["optimizer"]!.GetValue<string>());
        long all = train["trainable_parameters"]!.GetValue<long>();
        Assert.Equal(train["total_parameters"]!.GetValue<long>(), all);

        (code, output, error) = Run("bench", "train", "--model", Model, "--shape", "2x8", "--steps", "1", "--lora-rank", "2", "--threads", "1");
        Assert.True(code == 0, error);
        var lora = LastJson(output);
        Assert.Equal(2, lora["lora_rank"]!.GetValue<int>());
        Assert.InRange(lora["trainable_parameters"]!.GetValue<long>(), 1, all / 2);

        (code, output, error) = Run("bench", "load", "--model", Model, "--dtype", "bfloat16");
        Assert.True(code == 0, error);
        var load = LastJson(output);
        Assert.Equal("bfloat16", load["dtype"]!.GetValue<string>());
        Assert.True(load["weights_mb"]!.GetValue<double>() > 0);
    }

    [Fact]
    public void BadShapeIsAUserErrorNamingIt()
    {
        var (code, _, error) = Run("bench", "model", "--model", Model, "--shapes", "8by128");
        Assert.Equal(CliErrors.UserError, code);
        Assert.Contains("8by128", error);
    }
}
