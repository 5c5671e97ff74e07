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
        var sentences = new Option<int>("--sentences") { Description = "Sentences per batch encoding.", DefaultValueFactory = _ => 10_000 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions (median reported).", DefaultValueFactory = _ => 5 };
        var cmd = new Command("tokenizer", "Tokens per second of batch encoding (no padding) of generated English sentences.") { model, sentences, repeats };
        cmd.SetAction(parse => CliErrors.Run(() =>
        {
            var tokenizer = AutoTokenizer.FromPretrained(parse.GetValue(model)!.FullName);
            int n = parse.GetValue(sentences), r = parse.GetValue(repeats);
            if (n < 1 || r < 1) throw new DebertaSharpException("--sentences and --repeats must be positive.");
            var texts = Sentences(n, seed: 1);
            tokenizer.EncodeBatch(texts.Take(Math.Min(n, 200)).ToList());                   // warm-up (JIT, caches)
            var seconds = new List<double>();
            long tokens = 0;
            for (int i = 0; i < r; i++)
            {
                var sw = Stopwatch.StartNew();
                var batch = tokenizer.EncodeBatch(texts);
                sw.Stop();
                seconds.Add(sw.Elapsed.TotalSeconds);
                tokens = batch.Encodings.Sum(e => (long)e.InputIds.Count);
            }
            seconds.Sort();
            double median = seconds[seconds.Count / 2];
            Console.WriteLine($"{tokenizer.GetType().Name}: {n} sentences, {tokens} tokens per batch; median {median * 1000:F1} ms over {r} runs " +
                              $"(min {seconds[0] * 1000:F1}, max {seconds[^1] * 1000:F1}) = {tokens / median:N0} tokens/s, {n / median:N0} sentences/s");
            return 0;
        }));
        return cmd;
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
