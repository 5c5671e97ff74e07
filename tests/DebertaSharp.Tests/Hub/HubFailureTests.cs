using System.Net;
using System.Net.Sockets;
using DebertaSharp.Hub;
using DebertaSharp.Modeling;
using Xunit;

namespace DebertaSharp.Tests.Hub;

/// <summary>
/// Every way fetching can fail names its cause (a <see cref="HubException"/> with repo, revision and file), and
/// nothing half-written is left where a later load would read it; an interrupted download resumes with Range.
/// </summary>
public class HubFailureTests
{
    /// <summary>No snapshot entry and no complete blob of <paramref name="file"/>: a later load cannot pick up bad bytes.</summary>
    private static void AssertNothingLoadable(HubTestBed bed, string file)
    {
        Assert.False(File.Exists(bed.BlobPath(file)), "blob");
        string snapshots = Path.Combine(bed.RepoFolder, "snapshots");
        Assert.False(Directory.Exists(snapshots) && Directory.EnumerateFiles(snapshots, Path.GetFileName(file), SearchOption.AllDirectories).Any(), "snapshot entry");
    }

    [Fact]
    public void InterruptedDownloadResumesWithARangeRequest()
    {
        using var bed = new HubTestBed();
        byte[] weights = bed.Files["model.safetensors"];
        bed.Hub.DropOnce[bed.CdnPath("model.safetensors")] = 100_000;

        var ex = Assert.Throws<HubDownloadException>(() => PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options()));
        Assert.Contains("interrupted", ex.Message);
        Assert.Contains("run again to resume", ex.Message);
        Assert.Contains($"after 100000 of {weights.Length} bytes", ex.Message);
        Assert.Equal("model.safetensors", ex.File);
        Assert.Equal(HubTestBed.RepoId, ex.RepoId);
        string partial = bed.BlobPath("model.safetensors") + ".incomplete";
        long kept = new FileInfo(partial).Length;
        Assert.Equal(100_000, kept);                                          // every byte that arrived is kept
        AssertNothingLoadable(bed, "model.safetensors");

        var snapshot = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        var resumed = bed.Hub.Requests.Last(r => r.Path == bed.CdnPath("model.safetensors"));
        Assert.Equal($"bytes={kept}-", resumed.Range);
        Assert.Equal(weights, File.ReadAllBytes(snapshot.Files.Single(f => f.File == "model.safetensors").Path));
        Assert.False(File.Exists(partial));
        using var model = DebertaForSequenceClassification.FromPretrained(snapshot.Folder);
    }

    [Fact]
    public void ACompleteOrOversizedPartialFileIsNotRequestedAgainWrongly()
    {
        using var bed = new HubTestBed();
        byte[] weights = bed.Files["model.safetensors"];
        string partial = bed.BlobPath("model.safetensors") + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        File.WriteAllBytes(partial, weights);                                  // a run that stopped just before the rename
        var snapshot = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        Assert.Equal(0, bed.Hub.Count("GET", "/cdn/"));
        Assert.Equal(weights, File.ReadAllBytes(snapshot.Files[1].Path));

        using var other = new HubTestBed();
        string stale = other.BlobPath("model.safetensors") + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(stale)!);
        File.WriteAllBytes(stale, [.. weights, .. weights]);                    // longer than the file: thrown away
        var fresh = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, other.Options());
        Assert.Null(other.Hub.Requests.Single(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range);
        Assert.Equal(weights, File.ReadAllBytes(fresh.Files[1].Path));
    }

    [Fact]
    public void ShortDownloadFailsTheSizeCheckAndLeavesNothing()
    {
        using var bed = new HubTestBed();
        bed.Hub.Short[bed.CdnPath("model.safetensors")] = 1000;
        var ex = Assert.Throws<HubDownloadException>(() => PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options()));
        Assert.Contains($"arrived with {bed.Files["model.safetensors"].Length - 1000} bytes but the hub announced {bed.Files["model.safetensors"].Length}", ex.Message);
        AssertNothingLoadable(bed, "model.safetensors");
        Assert.False(File.Exists(bed.BlobPath("model.safetensors") + ".incomplete"));
    }

    /// <summary>
    /// A file stream that fails like a full disk once <c>limit</c> bytes are written; like a buffered FileStream, its
    /// Dispose then fails too (seen on a full tmpfs: the error must still become a HubDownloadException).
    /// </summary>
    private sealed class FullDisk(Stream inner, long limit) : Stream
    {
        private bool _failed;

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (inner.Length + count > limit)
            {
                _failed = true;
                throw new IOException("No space left on device", 28);
            }
            inner.Write(buffer, offset, count);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
            if (disposing && _failed)
            {
                _failed = false;
                throw new IOException("No space left on device (flushing on close)", 28);
            }
        }
    }

    [Fact]
    public void FullDiskFailsCleanlyAndALaterRunSucceeds()
    {
        using var bed = new HubTestBed();
        var options = bed.Options() with { OpenDownloadFile = (path, mode) => new FullDisk(new FileStream(path, mode, FileAccess.Write), 50_000) };
        var ex = Assert.Throws<HubDownloadException>(() => PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, options));
        Assert.Contains("disk full", ex.Message);
        Assert.Contains("No space left on device", ex.Message);
        Assert.Equal("model.safetensors", ex.File);
        AssertNothingLoadable(bed, "model.safetensors");
        Assert.False(File.Exists(bed.BlobPath("model.safetensors") + ".incomplete"));

        var snapshot = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        Assert.Equal(bed.Files["model.safetensors"], File.ReadAllBytes(snapshot.Files[1].Path));
    }

    [Fact]
    public void GatedRepositoryNeedsAToken()
    {
        using var bed = new HubTestBed();
        bed.Hub.Add("org/gated", bed.Files, gated: true);
        var ex = Assert.Throws<HubAuthenticationException>(() => PretrainedSource.Download("org/gated", PretrainedFiles.Model, bed.Options()));
        Assert.Contains("gated", ex.Message);
        Assert.Contains("HF_TOKEN", ex.Message);
        Assert.Contains("org/gated", ex.Message);
        Assert.Contains("No token was sent", ex.Message);

        var wrong = Assert.Throws<HubAuthenticationException>(() => PretrainedSource.Download("org/gated", PretrainedFiles.Model, bed.Options() with { Token = "hf_bad" }));
        Assert.Contains("(403)", wrong.Message);
        Assert.Contains("not accepted", wrong.Message);

        File.WriteAllText(Path.Combine(bed.Root, "token"), FakeHub.GoodToken);   // huggingface-cli login writes $HF_HOME/token
        var snapshot = PretrainedSource.Download("org/gated", PretrainedFiles.Model, bed.Options());
        Assert.Equal(2, snapshot.Files.Count);
        Assert.All(bed.Hub.Requests.Where(r => r.Path.Contains("/resolve/", StringComparison.Ordinal)).TakeLast(3),
            r => Assert.Equal("Bearer " + FakeHub.GoodToken, r.Authorization));
        Assert.All(bed.Hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), r => Assert.Null(r.Authorization));

        // Once cached, the token may go (as in huggingface_hub): the refusal falls back to the cache...
        File.Delete(Path.Combine(bed.Root, "token"));
        using (HubOptions.Use(bed.Options()))
        using (var cached = DebertaForSequenceClassification.FromPretrained("org/gated")) { }
        // ...but a required file that is not cached still reports the refusal.
        var gatedSnapshot = Path.Combine(bed.Cache, "models--org--gated", "snapshots", snapshot.Commit);
        File.Delete(Path.Combine(gatedSnapshot, "model.safetensors"));
        var refused = Assert.Throws<HubAuthenticationException>(() => PretrainedSource.Download("org/gated", PretrainedFiles.Model, bed.Options()));
        Assert.Contains("HF_TOKEN", refused.Message);
    }

    [Fact]
    public void MissingRepositoryRevisionAndFilesAreNamed()
    {
        using var bed = new HubTestBed();
        var repo = Assert.Throws<RepositoryNotFoundException>(() => PretrainedSource.Resolve("org/nothing", PretrainedFiles.Model, bed.Options()));
        Assert.Contains("'org/nothing' was not found", repo.Message);
        Assert.Contains("HF_TOKEN", repo.Message);

        var revision = Assert.Throws<RevisionNotFoundException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options("v9")));
        Assert.Contains("no branch, tag or commit 'v9'", revision.Message);
        Assert.Equal("v9", revision.Revision);

        bed.Hub.Add("org/weights-only", new Dictionary<string, byte[]> { ["model.safetensors"] = bed.Files["model.safetensors"] });
        var config = Assert.Throws<EntryNotFoundException>(() => PretrainedSource.Resolve("org/weights-only", PretrainedFiles.Model, bed.Options()));
        Assert.Equal("config.json", config.File);
        Assert.Contains("'org/weights-only' has no file 'config.json' at revision 'main'", config.Message);

        bed.Hub.Add("org/config-only", new Dictionary<string, byte[]> { ["config.json"] = bed.Files["config.json"] });
        var weights = Assert.Throws<EntryNotFoundException>(() => PretrainedSource.Resolve("org/config-only", PretrainedFiles.Model, bed.Options()));
        Assert.Contains("has no weights", weights.Message);
        Assert.Contains("model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json", weights.Message);

        // Through FromPretrained, as a user meets it: a DebertaSharpException.
        using (HubOptions.Use(bed.Options()))
            Assert.Throws<RepositoryNotFoundException>(() => DebertaForSequenceClassification.FromPretrained("org/nothing"));
    }

    private static string ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }

    [Fact]
    public void NoNetworkAndNothingCached()
    {
        using var bed = new HubTestBed();
        var options = bed.Options() with { Endpoint = ClosedPort() };
        var ex = Assert.Throws<HubNotCachedException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, options));
        Assert.False(ex.Offline);
        Assert.Contains("cannot be reached", ex.Message);
        Assert.Contains("'org/tiny-nli' is not a local folder, and at revision 'main' it is not in the hub cache", ex.Message);

        // Only config.json cached: the weights are reported as not cached, not as absent from the repository.
        PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Config, bed.Options());
        var weights = Assert.Throws<HubNotCachedException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, options));
        Assert.Contains("No weights of 'org/tiny-nli' (revision 'main') are in the cache", weights.Message);
        Assert.Contains("cannot be reached", weights.Message);

        // Once cached, the same unreachable hub is no obstacle: refs/main names the snapshot.
        PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        using var model = DebertaForSequenceClassification.FromPretrained(PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, options));
    }

    [Fact]
    public void AFailingHubFallsBackToTheCache()
    {
        using var bed = new HubTestBed();
        bed.Hub.FailWith = 503;
        var ex = Assert.Throws<HubException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options()));
        Assert.Contains("answered 503", ex.Message);
        Assert.Equal("config.json", ex.File);

        bed.Hub.FailWith = null;
        PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        bed.Hub.FailWith = 503;
        using (HubOptions.Use(bed.Options()))
        using (var model = DebertaForSequenceClassification.FromPretrained(HubTestBed.RepoId)) { }
    }

    [Fact]
    public void OfflineModeNeverTouchesTheNetwork()
    {
        using var bed = new HubTestBed();
        var ex = Assert.Throws<HubNotCachedException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options(offline: true)));
        Assert.True(ex.Offline);
        Assert.Contains("HF_HUB_OFFLINE=1", ex.Message);
        Assert.Empty(bed.Hub.Requests);

        PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        int before = bed.Hub.Requests.Count;
        using (HubOptions.Use(bed.Options(offline: true)))
        {
            using var model = DebertaForSequenceClassification.FromPretrained(HubTestBed.RepoId);
            // Tokenizer files were never fetched: offline, a required one is reported as not cached.
            var missing = Assert.Throws<HubNotCachedException>(() => PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options("other", offline: true)));
            Assert.Contains("revision 'other'", missing.Message);
        }
        Assert.Equal(before, bed.Hub.Requests.Count);
    }

    [Fact]
    public void CancellationStopsASlowHubAndASlowDownload()
    {
        using var bed = new HubTestBed();
        bed.Hub.Delay = TimeSpan.FromSeconds(30);
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            Assert.ThrowsAny<OperationCanceledException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options(), cancel.Token));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        }
        bed.Hub.Delay = TimeSpan.Zero;
        bed.Hub.ChunkDelay = TimeSpan.FromMilliseconds(200);                  // ~16 chunks: 3 s for the weights
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(800)))
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            Assert.ThrowsAny<OperationCanceledException>(() => PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options(), cancel.Token));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        }
        AssertNothingLoadable(bed, "model.safetensors");
    }

    [Fact]
    public void StalledDownloadCountsAsInterrupted()
    {
        using var bed = new HubTestBed();
        bed.Hub.ChunkDelay = TimeSpan.FromSeconds(2);
        var options = bed.Options() with { ReadTimeout = TimeSpan.FromMilliseconds(300) };
        var ex = Assert.Throws<HubDownloadException>(() => PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, options));
        Assert.Contains("no data for 0.3 s", ex.Message);
        Assert.Contains("run again to resume", ex.Message);
        AssertNothingLoadable(bed, "model.safetensors");
    }

    [Fact]
    public void AHeldLockIsWaitedForThenReported()
    {
        using var bed = new HubTestBed();
        string lockPath = Path.Combine(bed.Cache, ".locks", "models--org--tiny-nli", FakeHub.Sha256(bed.Files["model.safetensors"]) + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        using (new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))   // another downloader
        {
            var ex = Assert.Throws<HubDownloadException>(() =>
                PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options() with { LockTimeout = TimeSpan.FromMilliseconds(300) }));
            Assert.Contains("for another process downloading 'model.safetensors'", ex.Message);
            Assert.Equal(0, bed.Hub.Count("GET", "/cdn/"));
        }
        PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options());
        Assert.Equal(1, bed.Hub.Count("GET", "/cdn/"));
    }

    [Fact]
    public void ErrorsNameTheRepoInTheCli()
    {
        using var bed = new HubTestBed();
        var (code, _, error) = HubCliTests.Run(bed, "download", "org/nothing");
        Assert.Equal(2, code);
        Assert.Contains("'org/nothing' was not found", error);
        Assert.DoesNotContain("   at ", error);
    }
}
