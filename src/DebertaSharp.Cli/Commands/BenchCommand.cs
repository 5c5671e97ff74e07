using System.CommandLine;
using System.Diagnostics;
using DebertaSharp.Tokenization;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// <c>deberta bench</c>: measurements that belong in a benchmark, never in a unit test. Medians over repeated runs;
/// this machine is noisy, so compare ratios measured in one run.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks: model forward against the GEMM floor, memory, loading, training step, tokenizer throughput.");
        bench.Subcommands.Add(TokenizerBench());
        foreach (var command in ModelBenchCommands.Create()) bench.Subcommands.Add(command);
        bench.Subcommands.Add(BenchReportCommand.Create());
        return bench;
    }

    private static Command TokenizerBench()
    {
        var model = CliErrors.ModelOption(ModelFolderNeeds.Tokenizer);
        var sentences = new Option<int>("--sentences") { Description = "Sentences per run.", DefaultValueFactory = _ => 10_000 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions of each mode, alternated (median reported).", DefaultValueFactory = _ => 5 };
        var cmd = new Command("tokenizer",
            "Tokens and sentences per second of generated English sentences (8-40 words): one thread encoding one sentence at a time, " +
            "and EncodeBatch on all cores.") { model, sentences, repeats };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var tokenizer = AutoTokenizer.FromPretrained(CliErrors.ModelPath(parse.GetValue(model)!));
            int n = parse.GetValue(sentences), r = parse.GetValue(repeats);
            if (n < 1 || r < 1) throw new DebertaSharpException("--sentences and --repeats must be positive.");
            var texts = Sentences(n, seed: 1);
            double words = texts.Average(t => t.Count(c => c == ' ') + 1.0);
            foreach (string text in texts.Take(Math.Min(n, 500))) tokenizer.Encode(text);   // warm-up (JIT)
            tokenizer.EncodeBatch(texts.Take(Math.Min(n, 500)).ToList());

            long tokens = 0;
            var single = new List<(double Wall, double Cpu)>();
            var batch = new List<(double Wall, double Cpu)>();
            for (int i = 0; i < r; i++)
            {
                // Alternated, so that both modes see the same machine load.
                single.Add(Timed(() =>
                {
                    long count = 0;
                    foreach (string text in texts) count += tokenizer.Encode(text).Length;
                    tokens = count;
                }));
                batch.Add(Timed(() => tokenizer.EncodeBatch(texts)));
            }

            Console.WriteLine($"{tokenizer.GetType().Name} ({Path.GetFileName(parse.GetValue(model)!.FullName.TrimEnd(Path.DirectorySeparatorChar))}): " +
                              $"{n} sentences of {words:F1} words on average, {tokens} tokens; medians of {r} alternated runs");
            Report("one thread, Encode per sentence", single, n, tokens, cpuIsPerCore: true);
            Report($"EncodeBatch on {Environment.ProcessorCount} cores", batch, n, tokens, cpuIsPerCore: false);
            return 0;
        }));
        return cmd;
    }

    /// <summary>Wall time and CPU time of the whole process (all threads) for one call, in seconds.</summary>
    private static (double Wall, double Cpu) Timed(Action action)
    {
        var process = Process.GetCurrentProcess();
        TimeSpan cpu = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        action();
        sw.Stop();
        process.Refresh();
        return (sw.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    private static void Report(string mode, List<(double Wall, double Cpu)> runs, int sentences, long tokens, bool cpuIsPerCore)
    {
        double wall = runs.Select(x => x.Wall).Order().ElementAt(runs.Count / 2);
        double cpu = runs.Select(x => x.Cpu).Order().ElementAt(runs.Count / 2);
        Console.WriteLine($"  {mode}: {wall * 1000:F1} ms = {tokens / wall:N0} tokens/s, {sentences / wall:N0} sentences/s" +
                          $"; CPU {cpu * 1000:F1} ms = {sentences / cpu:N0} sentences per CPU-second" +
                          (cpuIsPerCore ? " (what one unshared core would do)" : " (summed over threads)"));
    }

    private static readonly string[] Words =
    (
        "the model reads every sentence and learns which words belong together while the encoder keeps track of " +
        "relative positions between tokens so that attention can weigh content and distance separately " +
        "researchers trained it on large collections of books articles and web pages before fine-tuning " +
        "on questions answers reviews and labelled examples collected by volunteers in many countries " +
        "prices rose 3.5% in March, said Dr. O'Neill; \"unbelievable!\" replied the committee's chair. " +
        "Zürich São Paulo naïve café déjà-vu e-mail 2024-11-26 C# .NET DeBERTa-v3 tokenizer's"
    ).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Deterministic English-like sentences of 8–40 words.</summary>
    internal static List<string> Sentences(int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            int length = rng.Next(8, 41);
            var words = new string[length];
            for (int w = 0; w < length; w++) words[w] = Words[rng.Next(Words.Length)];
            words[0] = char.ToUpperInvariant(words[0][0]) + words[0][1..];
            list.Add(string.Join(' ', words) + ".");
        }
        return list;
    }
}
