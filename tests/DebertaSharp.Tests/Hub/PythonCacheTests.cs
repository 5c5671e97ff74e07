using DebertaSharp.Hub;
using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Hub;

/// <summary>
/// A cache laid out by hand exactly as <c>huggingface_hub</c> writes it (file_download.py: blobs named by etag,
/// <c>refs/main</c> without a newline, snapshot entries as relative symlinks, <c>.no_exist</c> markers, a model in a
/// subfolder of the snapshot) is read without a single request.
/// </summary>
public class PythonCacheTests
{
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private static void PythonLayout(HubTestBed bed, string repoFolder)
    {
        foreach (var (file, data) in bed.Files)
        {
            string blob = Path.Combine(repoFolder, "blobs", FakeHub.Etag(file, data));
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            File.WriteAllBytes(blob, data);
            string pointer = Path.Combine(repoFolder, "snapshots", Commit, file);
            Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
            File.CreateSymbolicLink(pointer, Path.Combine("..", "..", "blobs", FakeHub.Etag(file, data)));
        }
        Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
        File.WriteAllText(Path.Combine(repoFolder, "refs", "main"), Commit);
        foreach (string absent in new[] { "tokenizer.json", "vocab.json", "merges.txt" })
        {
            string marker = Path.Combine(repoFolder, ".no_exist", Commit, absent);
            Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
            File.WriteAllBytes(marker, []);
        }
    }

    [Fact]
    public void PythonMadeCacheIsReadWithoutRequests()
    {
        using var bed = new HubTestBed();
        string repoFolder = Path.Combine(bed.Cache, "models--cross-encoder--nli-tiny");
        PythonLayout(bed, repoFolder);
        bed.Hub.Add("cross-encoder/nli-tiny", bed.Files);

        using var local = DebertaForSequenceClassification.FromPretrained(HubTestBed.SampleFolder);
        using (HubOptions.Use(bed.Options(revision: Commit)))
        {
            using var model = DebertaForSequenceClassification.FromPretrained("cross-encoder/nli-tiny");
            using var ids = tensor(new long[] { 1, 5, 9, 2 }).unsqueeze(0);
            using var expected = local.Forward(new DebertaInputs(ids));
            using var got = model.Forward(new DebertaInputs(ids));
            Assert.Equal(expected.Logits!.data<float>().ToArray(), got.Logits!.data<float>().ToArray());
            using var pipeline = DebertaSharp.Pipelines.ZeroShotClassificationPipeline.FromPretrained("cross-encoder/nli-tiny");
        }
        Assert.Empty(bed.Hub.Requests);

        // Offline with the branch: refs/main names the commit.
        using (HubOptions.Use(bed.Options(offline: true)))
        {
            using var pipeline = DebertaSharp.Pipelines.ZeroShotClassificationPipeline.FromPretrained("cross-encoder/nli-tiny");
        }
        Assert.Empty(bed.Hub.Requests);

        // Online with the branch: one metadata request; the hub's commit differs, so its files are linked anew
        // from the blobs Python wrote (same etags): nothing is downloaded again.
        var snapshot = PretrainedSource.Download("cross-encoder/nli-tiny", PretrainedFiles.All, bed.Options());
        Assert.All(snapshot.Files, f => Assert.False(f.Downloaded));
        Assert.Equal(0, bed.Hub.Count("GET"));
    }

    [Fact]
    public void WhatDebertaSharpWritesIsWhatPythonReads()
    {
        using var bed = new HubTestBed();
        var snapshot = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.All, bed.Options());
        // huggingface_hub's try_to_load_from_cache: refs/main → snapshots/{commit}/{file}, a relative link to blobs/{etag}.
        string commit = File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "main"));
        Assert.Equal(snapshot.Commit, commit);
        foreach (var f in snapshot.Files)
        {
            var info = new FileInfo(Path.Combine(bed.RepoFolder, "snapshots", commit, f.File));
            Assert.Equal(Path.Combine("..", "..", "blobs", FakeHub.Etag(f.File, bed.Files[f.File])), info.LinkTarget);
            Assert.Equal(bed.Files[f.File], File.ReadAllBytes(info.FullName));
        }
        Assert.True(File.Exists(Path.Combine(bed.RepoFolder, ".no_exist", commit, "tokenizer.json")));
        Assert.Empty(Directory.GetFiles(bed.RepoFolder, "*.tmp", SearchOption.AllDirectories));
    }
}
