using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DebertaSharp.Pipelines;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// What the task commands (<c>classify</c>, <c>zero-shot</c>, <c>ner</c>, <c>qa</c>, <c>fill-mask</c>) share: the
/// <c>--model</c>, <c>--json</c>, <c>--input</c> and <c>--batch-size</c> options, reading the inputs, user errors as
/// exit code 2 on the command's error writer, a progress bar on an interactive terminal, and Spectre tables.
/// Numbers are parsed by hand so a bad value is a user error (2) like every other.
/// </summary>
internal static class PipelineCli
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The options every task command has.</summary>
    public sealed class Common
    {
        public Option<DirectoryInfo> Model { get; } = CliErrors.FolderOption(
            "--model", "Checkpoint folder (config.json, weights and tokenizer files: spm.model, tokenizer.json or vocab.json + merges.txt), or a Hugging Face Hub repo id.", ModelFolderNeeds.ConfigAndTokenizer, required: true);

        public Option<int?> Threads { get; } = CliErrors.ThreadsOption();

        public Option<bool> Json { get; } = new("--json") { Description = "Print one JSON object per input (JSON Lines) instead of tables." };

        public Option<string?> Input { get; } = new("--input") { Description = "Text file with one input per line (blank lines skipped), used with or instead of the arguments." };

        public Option<string?> BatchSize { get; } = new("--batch-size") { Description = "Sequences per forward pass (default 8)." };

        public Option<string?> MaxLength { get; } = new("--max-length") { Description = "Longest sequence given to the model, special tokens included (default: the tokenizer's limit, else 512)." };

        public void AddTo(Command command)
        {
            command.Options.Add(Model);
            command.Options.Add(Json);
            command.Options.Add(Input);
            command.Options.Add(BatchSize);
            command.Options.Add(MaxLength);
            command.Options.Add(Threads);
        }

        /// <summary>The checkpoint folder (checked by the parser), with torch's thread count set for its model (<c>--threads</c>).</summary>
        public string ModelFolder(ParseResult parse)
        {
            string folder = CliErrors.ModelPath(parse.GetValue(Model)!);
            CliErrors.SetThreads(parse.GetValue(Threads), DebertaSharp.Configuration.DebertaConfig.FromPretrained(folder));
            return folder;
        }

        /// <summary>Applies <c>--batch-size</c> and <c>--max-length</c> to a pipeline.</summary>
        public void Configure(ParseResult parse, Pipeline pipeline)
        {
            if (Int(parse.GetValue(BatchSize), "--batch-size", 1) is int b)
            {
                pipeline.BatchSize = b;
            }

            if (Int(parse.GetValue(MaxLength), "--max-length", 4) is int m)
            {
                pipeline.MaxLength = m;
            }
        }

        /// <summary>The argument texts followed by the lines of <c>--input</c> (then <paramref name="more"/>, e.g. a command's <c>--jsonl</c>); at least one.</summary>
        public List<string> Texts(ParseResult parse, Argument<string[]> arguments, string what, IEnumerable<string>? more = null)
        {
            var texts = new List<string>(parse.GetValue(arguments) ?? []);
            if (parse.GetValue(Input) is { } path)
            {
                try
                {
                    texts.AddRange(File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new UsageException($"Cannot read --input file '{path}': {ex.Message}");
                }
            }

            texts.AddRange(more ?? []);
            return texts.Count > 0 ? texts : throw new UsageException($"Nothing to do: give {what} as arguments or --input FILE.");
        }
    }

    /// <summary>
    /// The <c>"text"</c> of each line of a JSON Lines file (<c>--jsonl</c>; blank lines skipped); a line that is not an
    /// object with a string <c>"text"</c> is a usage error naming the file and line.
    /// </summary>
    public static List<string> JsonlTexts(string path)
    {
        var texts = new List<string>();
        ReadJsonl(path, (_, text, _) => texts.Add(text));
        return texts;
    }

    /// <summary>
    /// Reads a JSON Lines file (<c>--jsonl</c>): every non-blank line is parsed strictly (<see cref="StrictJson"/>) and
    /// must be an object with a string <c>"text"</c>; <paramref name="onLine"/> gets the object, its text and the line
    /// number. Every problem is a usage error naming the file and line.
    /// </summary>
    public static void ReadJsonl(string path, Action<JsonElement, string, int> onLine)
    {
        int number = 0;
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                number++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                JsonElement root;
                try
                {
                    using JsonDocument doc = StrictJson.Parse(StrictJson.Encode(line, path, JsonlError), path, JsonlError, firstLine: number);
                    root = doc.RootElement.Clone();
                }
                catch (DatasetException ex)
                {
                    throw new UsageException(ex.Message);
                }

                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
                {
                    throw new UsageException($"'{path}' line {number}: expected an object with a string \"text\".");
                }

                onLine(root, text.GetString()!, number);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"Cannot read --jsonl file '{path}': {ex.Message}");
        }
    }

    private static DebertaSharpException JsonlError(string message, Exception inner) => new DatasetException(message, inner);

    /// <summary>Runs a command body; library and usage errors print <c>deberta NAME: message</c> on the error writer and exit with 2.</summary>
    public static int Run(ParseResult parse, string name, Func<TextWriter, TextWriter, int> body)
    {
        TextWriter output = parse.InvocationConfiguration.Output;
        TextWriter error = parse.InvocationConfiguration.Error;
        try
        {
            return body(output, error);
        }
        catch (Exception ex) when (ex is DebertaSharpException or UsageException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"deberta {name}: {ex.Message}");
            return CliErrors.UserError;
        }
    }

    /// <summary>An integer option at least <paramref name="min"/>, or <c>null</c> when not given.</summary>
    public static int? Int(string? value, string option, int min)
    {
        if (value is null)
        {
            return null;
        }

        return int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) && n >= min
            ? n
            : throw new UsageException($"{option} '{value}' is not an integer ≥ {min}.");
    }

    /// <summary>
    /// Runs <paramref name="work"/> over the inputs in chunks, with a Spectre progress bar on stderr when it is an
    /// interactive terminal; results in input order.
    /// </summary>
    public static List<T> WithProgress<T>(TextWriter error, int count, int chunk, string what, Func<int, int, IReadOnlyList<T>> work)
    {
        var results = new List<T>(count);
        bool interactive = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected && count > chunk;
        if (!interactive)
        {
            for (int start = 0; start < count; start += chunk)
            {
                results.AddRange(work(start, Math.Min(chunk, count - start)));
            }

            return results;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress().Start(progress =>
        {
            var task = progress.AddTask(what, maxValue: count);
            for (int start = 0; start < count; start += chunk)
            {
                int n = Math.Min(chunk, count - start);
                results.AddRange(work(start, n));
                task.Increment(n);
            }
        });
        return results;
    }

    /// <summary>A Spectre console writing to <paramref name="output"/> (plain text when it is not a terminal).</summary>
    public static IAnsiConsole Tables(TextWriter output) =>
        AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = ReferenceEquals(output, System.Console.Out) && !System.Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
        });

    /// <summary>Writes one JSON object on one line.</summary>
    public static void WriteJsonLine(TextWriter output, JsonObject value) => output.WriteLine(value.ToJsonString(Compact));

    /// <summary>A score as the tables show it.</summary>
    public static string Score(float score) => score.ToString("0.0000", CultureInfo.InvariantCulture);

    /// <summary>Text made safe for Spectre markup.</summary>
    public static string Text(string value) => Markup.Escape(value);

    /// <summary>A mistake on the command line (reported without a stack trace, exit code 2).</summary>
    public sealed class UsageException(string message) : Exception(message);
}
