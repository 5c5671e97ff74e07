using System.CommandLine;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using DebertaSharp.Benchmarks;
using DebertaSharp.Cli.Commands;

// dotnet run -c Release --project benchmarks/DebertaSharp.Benchmarks -- report          the whole table (= deberta bench report)
// dotnet run -c Release --project benchmarks/DebertaSharp.Benchmarks -- bdn [--filter *Forward*]   BenchmarkDotNet suites
// dotnet run -c Release --project benchmarks/DebertaSharp.Benchmarks -- peer [--shapes 8x128,1x512] [--threads 1,2]   vs ONNX Runtime
// dotnet run -c Release --project benchmarks/DebertaSharp.Benchmarks -- make-precision-fixture DIR
// Anything else is passed to `deberta bench` (the report starts children of this program as `bench memory|train|load`).
if (args.Length > 0 && args[0] == "bdn")
{
    // In-process: the native libtorch fix-up of the build applies to this program's folder only.
    var config = ManualConfig.Create(DefaultConfig.Instance)
        .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
        .WithOptions(ConfigOptions.DisableOptimizationsValidator);
    BenchmarkSwitcher.FromAssembly(typeof(ForwardBenchmarks).Assembly).Run(args[1..], config);
    return 0;
}
if (args.Length == 2 && args[0] == "make-precision-fixture")
{
    PrecisionFixture.Make(args[1]);
    return 0;
}
var root = new RootCommand("DebertaSharp benchmarks: report, peer, bdn, make-precision-fixture, or any `deberta bench` command.");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PeerBenchmark.Create());
string[] forwarded = args.Length > 0 && args[0] == "report" ? ["bench", .. args] : args;
return root.Parse(forwarded).Invoke();
