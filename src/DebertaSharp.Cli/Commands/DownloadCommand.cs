using System.CommandLine;
using System.Text.Json;
using DebertaSharp.Hub;
using Spectre.Console;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// <c>deberta download REPO [--revision R] [--include GLOB]… [--json]</c>: fetches a checkpoint from the Hugging Face
/// Hub into the shared cache (as <c>huggingface-cli download</c>), with a progress bar per file on a terminal.
/// </summary>
internal static class DownloadCommand
{
    public static Command Create()
    {
        var repo = new Argument<string>("repo") { Description = "Hub repository id, e.g. microsoft/deberta-v3-base." };
        var revision = new Option<string?>("--revision") { Description = "Branch, tag or commit hash (default main)." };
        var include = new Option<string[]>("--include")
        {
            Description = "Download only the repository's files matching this glob (repeatable, e.g. '*.json'); default: what FromPretrained needs (config, weights, tokenizer files).",
            AllowMultipleArgumentsPerToken = true,
        };
        var subfolder = new Option<string?>("--subfolder") { Description = "Folder inside the repository that holds the checkpoint." };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Cache folder (default HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (repo, commit, folder, files) instead of text." };
        var cmd = new Command("download", "Download a checkpoint from the Hugging Face Hub into the shared cache (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE apply).")
        {
            repo, revision, include, subfolder, cacheDir, json,
        };
        cmd.SetAction(parse => PipelineCli.Run(parse, "download", (output, error) =>
        {
            var options = HubOptions.Current with
            {
                Revision = parse.GetValue(revision),
                Subfolder = parse.GetValue(subfolder),
                CacheDir = parse.GetValue(cacheDir) ?? HubOptions.Current.CacheDir,   // --cache-dir wins over HF_HUB_CACHE
            };
            string[] patterns = parse.GetValue(include) ?? [];
            HubSnapshot snapshot = WithProgress(error, options, o => patterns.Length > 0
                ? PretrainedSource.Download(parse.GetValue(repo)!, patterns, o)
                : PretrainedSource.Download(parse.GetValue(repo)!, PretrainedFiles.All, o));
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    repo = snapshot.RepoId,
                    revision = snapshot.Revision,
                    commit = snapshot.Commit,
                    folder = snapshot.Folder,
                    files = snapshot.Files.Select(f => new { file = f.File, path = f.Path, bytes = f.Bytes, downloaded = f.Downloaded }),
                }));
                return 0;
            }
            foreach (var f in snapshot.Files)
                output.WriteLine($"{(f.Downloaded ? "downloaded" : "cached    ")}  {f.File}  ({f.Bytes:N0} bytes)");
            output.WriteLine($"{snapshot.RepoId} at {snapshot.Revision} (commit {snapshot.Commit}): {snapshot.Folder}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Runs the download with a Spectre progress bar per file when stderr is an interactive terminal.</summary>
    private static HubSnapshot WithProgress(TextWriter error, HubOptions options, Func<HubOptions, HubSnapshot> download)
    {
        bool interactive = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        if (!interactive) return download(options);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        HubSnapshot? result = null;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .Start(progress =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                var reporter = new Reporter(p =>
                {
                    if (p.State == HubFileState.Absent) return;
                    if (!tasks.TryGetValue(p.File, out var task))
                        tasks[p.File] = task = progress.AddTask(Markup.Escape(p.File), maxValue: Math.Max(1, p.TotalBytes ?? 1));
                    if (p.TotalBytes is { } total) task.MaxValue = Math.Max(1, total);
                    task.Value = p.State is HubFileState.Cached or HubFileState.Downloaded ? task.MaxValue : p.Bytes;
                });
                result = download(options with { Progress = reporter });
            });
        return result!;
    }

    /// <summary>Calls back on the downloading thread (Progress&lt;T&gt; would post to a thread pool).</summary>
    private sealed class Reporter(Action<HubFileProgress> report) : IProgress<HubFileProgress>
    {
        public void Report(HubFileProgress value) => report(value);
    }
}
