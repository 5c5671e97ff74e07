using System.Diagnostics;
using System.Text;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Diagnostics;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Data;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// A seeded mutation fuzzer over the readers of untrusted files: safetensors (single and sharded), pytorch_model.bin
/// zips, config.json, the tokenizer JSON/text files (tokenizer.json included), JSONL/CSV and SQuAD data. Each case mutates one file of a valid
/// fixture (bit flips, byte insertion/deletion, truncation, duplicated regions, and for text files tokens swapped for
/// "interesting" values such as 2147483647, -1, 1e400, "\ud800", a repeated key) and runs the public reader on it.
/// The property: only <see cref="DebertaSharpException"/> subclasses escape and resident memory stays bounded;
/// anything else is a finding, reported with the seed and case number that reproduce it. A native abort ends the
/// process, which is why the long run is a process of its own (<c>dotnet DebertaSharp.Tests.dll fuzz --seconds 600</c>).
/// </summary>
internal static class FuzzHarness
{
    /// <summary>Growth of resident memory over the run's start that counts as unbounded.</summary>
    public const long MemoryLimitBytes = 2L << 30;

    /// <summary>One fuzzed reader: the fixture folder it starts from, the files it mutates, the call that reads them.</summary>
    public sealed record Target(string Name, string Fixture, string[] Files, Action<string> Read);

    /// <summary>One property violation.</summary>
    public sealed record Finding(string Target, string File, int Seed, long Case, string Exception);

    /// <summary>The result of a run.</summary>
    public sealed record Report(long Cases, long Refused, IReadOnlyList<Finding> Findings, long PeakGrowthBytes);

    private static readonly string[] Interesting =
        ["2147483647", "2147483646", "-2147483648", "-1", "0", "4294967296", "9223372036854775807", "1e400", "-0", "1.5", "null", "true",
         "\"\\ud800\"", "\"\\udc00x\"", "\"\"", "[]", "{}", "[[[[[[[[", "\"\u00e9\"", "NaN"];

    // Before Targets: static initialisers run in order.
    private static readonly string DataFolderPath = Path.Combine(Path.GetTempPath(), $"debertasharp-fuzz-data-{Environment.ProcessId}");

    public static IReadOnlyList<Target> Targets { get; } =
    [
        new("safetensors", Golden("deberta-v3-heads", "seqcls"), ["model.safetensors"], ReadCheckpoint),
        new("sharded", Golden("deberta-v3-heads", "seqcls-sharded"), ["model.safetensors.index.json", "model-00002-of-00003.safetensors"], ReadCheckpoint),
        new("bin", Golden("deberta-v3-heads", "tokcls-bin"), ["pytorch_model.bin"], ReadCheckpoint),
        new("bin-views", Path.Combine(Fixtures, "checkpoints"), ["views.bin"], folder => ReadCheckpointFile(Path.Combine(folder, "views.bin"))),
        new("config", Golden("deberta-v3-heads", "seqcls"), ["config.json"], folder =>
        {
            var config = DebertaConfig.FromPretrained(folder);
            using var checkpoint = CheckpointReader.Open(folder);
            DebertaSharp.Modeling.WeightLoader.CheckConfigFits(config, DebertaSharp.Modeling.HeadKind.SequenceClassification, checkpoint, "config.json");
        }),
        new("tokenizer-v1", Tokenization.GoldenData.Folder("tokenizer-v1"), ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"], ReadTokenizer),
        new("tokenizer-v3", Tokenization.GoldenData.Folder("tokenizer-v3"), ["added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"], ReadTokenizer),
        new("tokenizer-json", Tokenization.Fast.FastGoldenData.Folder("v3"), ["tokenizer.json"], ReadTokenizer),
        new("jsonl", DataFolder(), ["train.jsonl"], folder => TabularFile.Read(Path.Combine(folder, "train.jsonl"))),
        new("csv", DataFolder(), ["train.csv"], folder => TabularFile.Read(Path.Combine(folder, "train.csv"))),
        new("squad", DataFolder(), ["squad.json"], folder => SquadFile.Read(Path.Combine(folder, "squad.json"))),
    ];

    /// <summary>Runs up to <paramref name="casesPerTarget"/> cases per target, or until <paramref name="budget"/> is spent.</summary>
    public static Report Run(int seed, long casesPerTarget, TimeSpan budget, IEnumerable<string>? only = null, TextWriter? log = null)
    {
        var targets = Targets.Where(t => only is null || only.Contains(t.Name)).ToList();
        var findings = new List<Finding>();
        long cases = 0, refused = 0, startMemory = ProcessMemory.ResidentBytes() ?? 0, peak = 0;
        var clock = Stopwatch.StartNew();
        string work = Path.Combine(Path.GetTempPath(), $"debertasharp-fuzz-{Guid.NewGuid():N}");
        try
        {
            DataFolder(); // the data targets' fixture, removed at the end of the previous run
            long perTargetTicks = budget.Ticks / Math.Max(1, targets.Count);
            foreach (var (target, index) in targets.Select((t, i) => (t, i)))
            {
                string folder = Path.Combine(work, target.Name);
                Directory.CreateDirectory(folder);
                foreach (var f in Directory.GetFiles(target.Fixture)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
                var originals = target.Files.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(folder, f)));
                var random = new Random(HashCode.Combine(seed, target.Name.Length, index));
                var targetClock = Stopwatch.StartNew();
                for (long c = 0; c < casesPerTarget && targetClock.Elapsed.Ticks < perTargetTicks; c++)
                {
                    string file = target.Files[random.Next(target.Files.Length)];
                    byte[] mutated = Mutate(originals[file], random, IsText(file));
                    File.WriteAllBytes(Path.Combine(folder, file), mutated);
                    try
                    {
                        target.Read(folder);
                    }
                    catch (DebertaSharpException)
                    {
                        refused++;
                    }
                    catch (Exception e)
                    {
                        findings.Add(new Finding(target.Name, file, seed, c, $"{e.GetType().FullName}: {e.Message}"));
                        log?.WriteLine($"FINDING {target.Name}/{file} seed {seed} case {c}: {e.GetType().FullName}: {e.Message}");
                        string kept = Path.Combine(Path.GetTempPath(), $"debertasharp-fuzz-finding-{target.Name}-{seed}-{c}-{file}");
                        File.WriteAllBytes(kept, mutated);
                        log?.WriteLine($"  input kept at {kept}");
                    }
                    finally
                    {
                        File.WriteAllBytes(Path.Combine(folder, file), originals[file]);
                    }
                    cases++;
                    long growth = (ProcessMemory.ResidentBytes() ?? 0) - startMemory;
                    peak = Math.Max(peak, growth);
                    if (growth > MemoryLimitBytes)
                    {
                        findings.Add(new Finding(target.Name, file, seed, c, $"resident memory grew by {growth >> 20} MiB"));
                        break;
                    }
                }
                log?.WriteLine($"{target.Name}: {cases} cases so far, {findings.Count} findings, {clock.Elapsed.TotalSeconds:F0} s");
            }
        }
        finally
        {
            foreach (var folder in new[] { work, DataFolderPath })
                try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
        return new Report(cases, refused, findings, peak);
    }

    /// <summary><c>fuzz [--seconds N] [--seed S] [--target NAME]…</c>: exit 0 without findings, 1 with.</summary>
    public static int RunFromCommandLine(string[] args, TextWriter output)
    {
        int seconds = 60, seed = Environment.TickCount;
        var only = new List<string>();
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--seconds": seconds = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--target": only.Add(args[i + 1]); break;
                default: output.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }
        TorchSharp.torch.set_num_threads(1);
        output.WriteLine($"fuzzing {(only.Count == 0 ? "all targets" : string.Join(", ", only))} for {seconds} s, seed {seed}");
        var report = Run(seed, long.MaxValue, TimeSpan.FromSeconds(seconds), only.Count == 0 ? null : only, output);
        output.WriteLine($"{report.Cases} cases, {report.Refused} refused with a DebertaSharpException, {report.Findings.Count} findings, peak memory growth {report.PeakGrowthBytes >> 20} MiB");
        return report.Findings.Count == 0 ? 0 : 1;
    }

    private static void ReadCheckpoint(string folder)
    {
        using var reader = CheckpointReader.Open(folder);
        foreach (var key in reader.Keys)
        {
            using var t = reader.Read(key);
        }
    }

    private static void ReadCheckpointFile(string path)
    {
        using var reader = CheckpointReader.Open(path);
        foreach (var key in reader.Keys)
        {
            using var t = reader.Read(key);
        }
    }

    private static void ReadTokenizer(string folder)
    {
        var tokenizer = AutoTokenizer.FromPretrained(folder);
        var encoding = tokenizer.Encode("Hello wörld [MASK] it's 2024 – naïve café", "second text");
        foreach (int id in encoding.InputIds)
            if (id < 0 || id >= Math.Max(tokenizer.VocabularySize, 1) + 1_000)
                throw new InvalidOperationException($"emitted id {id} far outside the vocabulary of {tokenizer.VocabularySize}");
        tokenizer.Decode(encoding.InputIds);
    }

    /// <summary>A folder of small valid data files, written when first needed (and removed at the end of each run).</summary>
    private static string DataFolder()
    {
        string folder = DataFolderPath;
        if (File.Exists(Path.Combine(folder, "squad.json"))) return folder;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "train.jsonl"), "{\"text\": \"good film\", \"label\": \"pos\"}\n{\"text\": \"bad\", \"label\": \"neg\"}\n{\"text\": \"ok \\u00e9\", \"label\": \"pos\", \"extra\": [1, 2]}\n");
        File.WriteAllText(Path.Combine(folder, "train.csv"), "text,label\n\"good, film\",pos\nbad,neg\n\"say \"\"hi\"\"\",pos\n");
        File.WriteAllText(Path.Combine(folder, "squad.json"),
            "{\"version\": \"v2.0\", \"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": \"The cat sat on the mat.\", \"qas\": [" +
            "{\"id\": \"1\", \"question\": \"Where?\", \"answers\": [{\"text\": \"on the mat\", \"answer_start\": 12}]}," +
            "{\"id\": \"2\", \"question\": \"Who?\", \"answers\": [], \"is_impossible\": true}]}]}]}");
        return folder;
    }

    private static bool IsText(string file) => file.EndsWith(".json", StringComparison.Ordinal) || file.EndsWith(".jsonl", StringComparison.Ordinal)
        || file.EndsWith(".txt", StringComparison.Ordinal) || file.EndsWith(".csv", StringComparison.Ordinal);

    /// <summary>One to four mutations of <paramref name="data"/>.</summary>
    internal static byte[] Mutate(byte[] data, Random random, bool text)
    {
        var bytes = new List<byte>(data);
        for (int n = 1 + random.Next(4); n > 0; n--)
        {
            // Binary headers and pickles live near the start or the end: aim there half of the time.
            int Position() => bytes.Count == 0 ? 0
                : random.Next(2) == 0 ? random.Next(Math.Min(bytes.Count, 4096))
                : random.Next(2) == 0 ? bytes.Count - 1 - random.Next(Math.Min(bytes.Count, 4096))
                : random.Next(bytes.Count);
            switch (random.Next(text ? 8 : 6))
            {
                case 0 when bytes.Count > 0: { int at = Position(); bytes[at] ^= (byte)(1 << random.Next(8)); break; }
                case 1 when bytes.Count > 0: { int at = Position(); bytes[at] = (byte)random.Next(256); break; }
                case 2: { int at = Position(); bytes.Insert(Math.Min(at, bytes.Count), (byte)random.Next(256)); break; }
                case 3 when bytes.Count > 0: bytes.RemoveAt(Position()); break;
                case 4 when bytes.Count > 0: { int cut = random.Next(bytes.Count); bytes.RemoveRange(cut, bytes.Count - cut); break; } // truncation
                case 5 when bytes.Count > 8:
                {
                    int from = random.Next(bytes.Count - 8), length = 1 + random.Next(Math.Min(64, bytes.Count - from));
                    bytes.InsertRange(Position(), bytes.GetRange(from, length));
                    break;
                }
                default:
                    if (text) ReplaceToken(bytes, random);
                    break;
            }
        }
        return bytes.ToArray();
    }

    /// <summary>Swaps a number, string or literal of a text file for an interesting value, or repeats a "key": value pair.</summary>
    private static void ReplaceToken(List<byte> bytes, Random random)
    {
        if (bytes.Count == 0) return;
        string s = Encoding.UTF8.GetString(bytes.ToArray());
        int at = random.Next(s.Length);
        int start = at;
        while (start < s.Length && !(char.IsDigit(s[start]) || s[start] == '"')) start++;
        if (start >= s.Length) return;
        int end = start + 1;
        if (s[start] == '"') { while (end < s.Length && s[end] != '"') end++; end = Math.Min(end + 1, s.Length); }
        else while (end < s.Length && (char.IsDigit(s[end]) || s[end] is '.' or 'e' or '-')) end++;
        string replacement;
        if (random.Next(4) == 0 && s[start] == '"' && end < s.Length && s[end..].TrimStart().StartsWith(':'))
        {
            // "key": value, "key": value — a repeated key.
            int valueEnd = s.IndexOfAny([',', '}', '\n'], end);
            if (valueEnd < 0) return;
            replacement = s[start..valueEnd] + ", " + s[start..valueEnd];
            end = valueEnd;
        }
        else replacement = Interesting[random.Next(Interesting.Length)];
        string result = s[..start] + replacement + s[end..];
        bytes.Clear();
        bytes.AddRange(Encoding.UTF8.GetBytes(result));
    }
}
