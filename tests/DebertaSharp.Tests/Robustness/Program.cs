using DebertaSharp.Modeling;
using DebertaSharp.Tests.Training;
using TorchSharp;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// The test assembly's entry point (xunit ignores it), for work that needs a process of its own:
/// <c>dotnet DebertaSharp.Tests.dll fuzz [--seconds N] [--seed S] [--target NAME]</c> runs the mutation fuzzer for
/// longer than the suite does; <c>save-loop FOLDER</c> saves alternating 2- and 3-label models into FOLDER until
/// killed (the killed-save test's child); <c>native-heap</c> reports what the C heap does with a 12 MiB tensor in a
/// fresh process (the native-heap test's child).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "fuzz") return FuzzHarness.RunFromCommandLine(args[1..], Console.Out);
        if (args.Length == 2 && args[0] == "save-loop") return SaveLoop(args[1]);
        if (args.Length == 1 && args[0] == "native-heap") return DebertaSharp.Tests.Modeling.NativeHeapTests.Child(Console.Out);
        Console.Error.WriteLine("usage: DebertaSharp.Tests.dll fuzz [--seconds N] [--seed S] [--target NAME] | save-loop FOLDER | native-heap");
        return 2;
    }

    /// <summary>
    /// A child process running this assembly's entry point with <paramref name="arguments"/> (<c>dotnet exec
    /// DebertaSharp.Tests.dll …</c>, on the host running the tests), output and errors redirected.
    /// </summary>
    internal static System.Diagnostics.ProcessStartInfo ChildProcess(params string[] arguments)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new System.Diagnostics.ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", typeof(Program).Assembly.Location }.Concat(arguments)) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>Generation g has labels g{g}_0… and every classifier bias equal to g, so a mix of two saves shows.</summary>
    internal static DebertaForSequenceClassification Generation(int g)
    {
        var config = TinyModels.V3(numLabels: 2 + g % 2);
        config.SetLabels(Enumerable.Range(0, config.NumLabels).Select(i => $"g{g}_{i}"));
        var model = new DebertaForSequenceClassification(config);
        using var _ = torch.no_grad();
        model.named_parameters().Single(p => p.name == "classifier.bias").parameter.fill_(g);
        return model;
    }

    private static int SaveLoop(string folder)
    {
        torch.set_num_threads(1);
        var models = new[] { Generation(0), Generation(1), Generation(2), Generation(3) };
        for (int g = 0; ; g++)
        {
            models[g % 4].SavePretrained(folder);
            Console.Out.WriteLine($"saved {g % 4}");
            Console.Out.Flush();
        }
    }
}
