using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Hub;
using Xunit;

namespace DebertaSharp.Tests.Hub;

/// <summary><c>deberta download</c>, <c>deberta info REPO</c>, <c>--model REPO</c>, and two processes downloading at once.</summary>
public class HubCliTests
{
    /// <summary>Runs the CLI in-process with <paramref name="bed"/>'s hub and cache as the environment.</summary>
    internal static (int Code, string Output, string Error) Run(HubTestBed bed, params string[] args)
    {
        var root = new RootCommand("test") { DownloadCommand.Create(), InfoCommand.Create(), ZeroShotCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        using (HubOptions.Use(bed.Options()))
        {
            int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
            return (code, output.ToString(), error.ToString());
        }
    }

    [Fact]
    public void DownloadPrintsJsonAndInfoShowsTheCache()
    {
        using var bed = new HubTestBed();
        var (code, output, error) = Run(bed, "download", HubTestBed.RepoId, "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(bed.Commit, json.GetProperty("commit").GetString());
        var files = json.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(6, files.Count);
        Assert.All(files, f => Assert.True(f.GetProperty("downloaded").GetBoolean()));
        Assert.Equal(bed.Files["model.safetensors"].Length, files.Single(f => f.GetProperty("file").GetString() == "model.safetensors").GetProperty("bytes").GetInt64());
        Assert.Equal(bed.Files["spm.model"], File.ReadAllBytes(files.Single(f => f.GetProperty("file").GetString() == "spm.model").GetProperty("path").GetString()!));

        (code, output, error) = Run(bed, "download", HubTestBed.RepoId);
        Assert.True(code == 0, error);
        Assert.Contains("cached      model.safetensors", output);
        Assert.Contains($"(commit {bed.Commit})", output);

        (code, output, error) = Run(bed, "info", HubTestBed.RepoId);
        Assert.True(code == 0, error);
        Assert.Contains($"main -> {bed.Commit}", output);
        Assert.Contains($"snapshot {bed.Commit} (main)", output);
        Assert.Contains($"model.safetensors  {bed.Files["model.safetensors"].Length:N0} bytes", output);

        (code, output, _) = Run(bed, "info", "org/never-fetched");
        Assert.Equal(0, code);
        Assert.Contains("nothing cached", output);
    }

    [Fact]
    public void IncludeGlobsAndRevision()
    {
        using var bed = new HubTestBed();
        bed.Repo.Refs["v1"] = bed.Commit;
        var (code, output, error) = Run(bed, "download", HubTestBed.RepoId, "--revision", "v1", "--include", "*.json", "--json");
        Assert.True(code == 0, error);
        var names = JsonDocument.Parse(output).RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("file").GetString()).ToList();
        Assert.Equal(["added_tokens.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"], names);
        Assert.Equal(0, bed.Hub.Count("GET", "/cdn/"));
        Assert.Equal(bed.Commit, File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "v1")));

        // Offline, the cached snapshot stands in for the hub's file list.
        int before = bed.Hub.Requests.Count;
        using (HubOptions.Use(bed.Options(offline: true)))
        {
            var offline = PretrainedSource.Download(HubTestBed.RepoId, ["*.json"], bed.Options("v1", offline: true));
            Assert.Equal(names, offline.Files.Select(f => f.File));
        }
        Assert.Equal(before, bed.Hub.Requests.Count);

        (code, _, error) = Run(bed, "download", HubTestBed.RepoId, "--include", "*.onnx");
        Assert.Equal(2, code);
        Assert.Contains("No file of 'org/tiny-nli' (revision 'main') matches '*.onnx'", error);
    }

    [Fact]
    public void ModelOptionAcceptsARepoId()
    {
        using var bed = new HubTestBed();
        var (code, output, error) = Run(bed, "zero-shot", "--model", HubTestBed.RepoId, "--labels", "sports,law", "--json", "The game ended 2-1.");
        Assert.True(code == 0, error);
        Assert.Contains("\"labels\"", output);
        Assert.True(File.Exists(Path.Combine(bed.RepoFolder, "snapshots", bed.Commit, "spm.model")));
    }

    [Fact]
    public void FolderOptionsAcceptARepoIdToo()
    {
        using var bed = new HubTestBed();
        using (HubOptions.Use(bed.Options()))
        {
            // forward, bench, finetune take --model as a DirectoryInfo: a repo id that is no folder resolves to its snapshot.
            string folder = CliErrors.ModelPath(new DirectoryInfo(HubTestBed.RepoId));
            Assert.Equal(Path.Combine(bed.RepoFolder, "snapshots", bed.Commit), folder);
            Assert.Equal(HubTestBed.SampleFolder, CliErrors.ModelPath(new DirectoryInfo(HubTestBed.SampleFolder)));
        }
    }

    [Fact]
    public async Task TwoProcessesDownloadingTheSameFileAtOnce()
    {
        using var bed = new HubTestBed();
        bed.Hub.ChunkDelay = TimeSpan.FromMilliseconds(100);                 // the weights take ~1.5 s: the runs overlap
        Process Start()
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "deberta.dll"), "download", HubTestBed.RepoId, "--json" }) start.ArgumentList.Add(arg);
            foreach (var (k, v) in bed.Environment) start.Environment[k] = v;
            start.Environment.Remove("HF_TOKEN");
            start.Environment.Remove("HF_HUB_OFFLINE");
            return Process.Start(start)!;
        }
        using var a = Start();
        using var b = Start();
        var reads = new[] { a, b }.Select(p => (Out: p.StandardOutput.ReadToEndAsync(), Err: p.StandardError.ReadToEndAsync())).ToArray();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await Task.WhenAll(a.WaitForExitAsync(timeout.Token), b.WaitForExitAsync(timeout.Token));
        var outputs = new List<(string Out, string Err)>();
        foreach (var (o, e) in reads) outputs.Add((await o, await e));
        Assert.True(a.ExitCode == 0, outputs[0].Err);
        Assert.True(b.ExitCode == 0, outputs[1].Err);

        Assert.Equal(bed.Files["model.safetensors"], File.ReadAllBytes(bed.BlobPath("model.safetensors")));
        Assert.Equal(1, bed.Hub.Count("GET", bed.CdnPath("model.safetensors")));   // the second process waited on the lock
        Assert.True(File.Exists(Path.Combine(bed.Cache, ".locks", "models--org--tiny-nli", FakeHub.Sha256(bed.Files["model.safetensors"]) + ".lock")));
        Assert.Empty(Directory.GetFiles(Path.Combine(bed.RepoFolder, "blobs"), "*.incomplete"));
        foreach (var o in outputs)
        {
            var json = JsonDocument.Parse(o.Out).RootElement;
            Assert.Equal(bed.Commit, json.GetProperty("commit").GetString());
        }
    }
}
