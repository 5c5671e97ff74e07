using DebertaSharp.Hub;

namespace DebertaSharp.Tests.Hub;

/// <summary>A <see cref="FakeHub"/> serving the tiny NLI sample as <c>org/tiny-nli</c>, and an empty cache folder.</summary>
internal sealed class HubTestBed : IDisposable
{
    public const string RepoId = "org/tiny-nli";

    public HubTestBed()
    {
        Files = FakeHub.FolderFiles(SampleFolder);
        Repo = Hub.Add(RepoId, Files);
        Commit = Repo.Refs["main"];
        Directory.CreateDirectory(Cache);
    }

    /// <summary><c>samples/models/tiny-nli</c>: a DeBERTa-v3 sequence classifier with its spm tokenizer.</summary>
    public static string SampleFolder { get; } = FindSample("tiny-nli");

    public FakeHub Hub { get; } = new();

    public FakeRepo Repo { get; }

    public string Commit { get; }

    public Dictionary<string, byte[]> Files { get; }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "debertasharp-hub-" + Guid.NewGuid().ToString("N"));

    public string Cache => Path.Combine(Root, "hub");

    public string RepoFolder => Path.Combine(Cache, "models--org--tiny-nli");

    /// <summary>The environment the library sees: this hub, this cache, no token, online.</summary>
    public Dictionary<string, string?> Environment => new()
    {
        ["HF_ENDPOINT"] = Hub.Endpoint,
        ["HF_HOME"] = Root,
        ["HF_HUB_CACHE"] = Cache,
    };

    public HubOptions Options(string? revision = null, bool offline = false) => new()
    {
        Environment = offline ? new Dictionary<string, string?>(Environment) { ["HF_HUB_OFFLINE"] = "1" } : Environment,
        Revision = revision,
    };

    public string CdnPath(string file) => FakeHub.CdnPath(Files[file]);

    public string BlobPath(string file) => Path.Combine(RepoFolder, "blobs", FakeHub.Etag(file, Files[file]));

    public void Dispose()
    {
        Hub.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static string FindSample(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DebertaSharp.sln")))
                return Path.Combine(dir.FullName, "samples", "models", name);
        throw new DirectoryNotFoundException("No DebertaSharp.sln above " + AppContext.BaseDirectory);
    }
}
