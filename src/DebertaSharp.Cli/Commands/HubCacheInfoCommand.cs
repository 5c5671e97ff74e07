using System.Text.Json;
using DebertaSharp.Hub;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta info REPO</c>: the revisions, snapshots and files the local hub cache holds of a repository.</summary>
internal static class HubCacheInfoCommand
{
    public static int Run(string repoId, bool asJson, TextWriter output)
    {
        var options = HubOptions.Current;
        HubCacheInfo info = new HubCache(options.EffectiveCacheDir, repoId).Describe();
        if (asJson)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                repo = info.RepoId,
                folder = info.Folder,
                cached = info.Exists,
                refs = info.Refs,
                blob_bytes = info.BlobBytes,
                snapshots = info.Snapshots.Select(s => new
                {
                    commit = s.Commit,
                    refs = s.Refs,
                    folder = s.Folder,
                    files = s.Files.Select(f => new { file = f.File, bytes = f.Bytes }),
                }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        if (!info.Exists)
        {
            output.WriteLine($"{repoId}: nothing cached in {options.EffectiveCacheDir} (deberta download {repoId} fetches it).");
            return 0;
        }
        output.WriteLine($"{repoId} in {info.Folder}: {info.Snapshots.Count} snapshot(s), {info.BlobBytes:N0} bytes of blobs");
        foreach (var (name, commit) in info.Refs) output.WriteLine($"  {name} -> {commit}");
        foreach (var s in info.Snapshots)
        {
            output.WriteLine($"  snapshot {s.Commit}{(s.Refs.Count > 0 ? " (" + string.Join(", ", s.Refs) + ")" : "")}");
            foreach (var f in s.Files) output.WriteLine($"    {f.File}  {(f.Bytes is { } b ? $"{b:N0} bytes" : "missing blob")}");
        }
        return 0;
    }
}
