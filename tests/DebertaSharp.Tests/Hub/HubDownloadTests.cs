using DebertaSharp.Hub;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Hub;

/// <summary>
/// Fresh download, cached re-use (request counts), the cache layout huggingface_hub writes, revisions and subfolders,
/// against <see cref="FakeHub"/>.
/// </summary>
public class HubDownloadTests
{
    private static float[] Logits(DebertaPreTrainedModel model)
    {
        using var ids = tensor(new long[] { 1, 5, 9, 17, 2 }).unsqueeze(0);
        using var output = model.Forward(new DebertaInputs(ids));
        return output.Logits!.data<float>().ToArray();
    }

    [Fact]
    public void SequenceClassifierLoadsFromTheHubThenFromTheCache()
    {
        using var bed = new HubTestBed();
        using var local = DebertaForSequenceClassification.FromPretrained(HubTestBed.SampleFolder);
        using (HubOptions.Use(bed.Options()))
        {
            using var model = DebertaForSequenceClassification.FromPretrained(HubTestBed.RepoId);
            Assert.Equal(Logits(local), Logits(model));
        }
        // Fresh: config.json HEAD + GET, model.safetensors HEAD (302 to the CDN) + CDN GET.
        Assert.Equal(4, bed.Hub.Requests.Count);
        Assert.Equal(2, bed.Hub.Count("HEAD"));
        Assert.Equal(1, bed.Hub.Count("GET", "/cdn/"));

        // The layout of huggingface_hub: refs/main = commit, snapshot entries are relative links into blobs/.
        Assert.Equal(bed.Commit, File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "main")));
        string pointer = Path.Combine(bed.RepoFolder, "snapshots", bed.Commit, "model.safetensors");
        Assert.Equal(Path.Combine("..", "..", "blobs", FakeHub.Sha256(bed.Files["model.safetensors"])), new FileInfo(pointer).LinkTarget);
        Assert.Equal(bed.Files["config.json"], File.ReadAllBytes(Path.Combine(bed.RepoFolder, "blobs", FakeHub.GitBlobId(bed.Files["config.json"]))));
        Assert.Empty(Directory.GetFiles(Path.Combine(bed.RepoFolder, "blobs"), "*.incomplete"));

        // Branch: one metadata request (HEAD config.json) turns main into the commit; the rest is cached.
        int before = bed.Hub.Requests.Count;
        using (HubOptions.Use(bed.Options()))
        {
            using var again = DebertaForSequenceClassification.FromPretrained(HubTestBed.RepoId);
            Assert.Equal(Logits(local), Logits(again));
        }
        Assert.Equal(1, bed.Hub.Requests.Count - before);
        Assert.Equal("HEAD", bed.Hub.Requests.Last().Method);

        // Commit hash: no request at all.
        before = bed.Hub.Requests.Count;
        using (HubOptions.Use(bed.Options(revision: bed.Commit)))
        {
            using var pinned = DebertaForSequenceClassification.FromPretrained(HubTestBed.RepoId);
            Assert.Equal(Logits(local), Logits(pinned));
        }
        Assert.Equal(before, bed.Hub.Requests.Count);
    }

    [Fact]
    public void TokenizerAndPipelineFilesAreFetchedAndMissingOnesRememberedInNoExist()
    {
        using var bed = new HubTestBed();
        var snapshot = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.All, bed.Options());
        Assert.Equal(bed.Commit, snapshot.Commit);
        Assert.Equal(
            ["config.json", "model.safetensors", "tokenizer_config.json", "spm.model", "special_tokens_map.json", "added_tokens.json"],
            snapshot.Files.Select(f => f.File));
        Assert.All(snapshot.Files, f => Assert.True(f.Downloaded));
        // 6 files present (HEAD + GET each) and 3 absent (one HEAD each: tokenizer.json, vocab.json, merges.txt).
        Assert.Equal(15, bed.Hub.Requests.Count);
        foreach (string absent in new[] { "tokenizer.json", "vocab.json", "merges.txt" })
            Assert.True(File.Exists(Path.Combine(bed.RepoFolder, ".no_exist", bed.Commit, absent)), absent);

        var tokenizer = AutoTokenizer.FromPretrained(snapshot.Folder);
        var expected = AutoTokenizer.FromPretrained(HubTestBed.SampleFolder);
        Assert.Equal(expected.Encode("A soccer game.").InputIds, tokenizer.Encode("A soccer game.").InputIds);

        int before = bed.Hub.Requests.Count;
        var cached = PretrainedSource.Download(HubTestBed.RepoId, PretrainedFiles.All, bed.Options(revision: bed.Commit));
        Assert.Equal(before, bed.Hub.Requests.Count);                         // .no_exist answers for the absent ones
        Assert.All(cached.Files, f => Assert.False(f.Downloaded));

        using (HubOptions.Use(bed.Options()))
        {
            using var pipeline = DebertaSharp.Pipelines.ZeroShotClassificationPipeline.FromPretrained(HubTestBed.RepoId);
            using var reference = DebertaSharp.Pipelines.ZeroShotClassificationPipeline.FromPretrained(HubTestBed.SampleFolder);
            Assert.Equal(reference.Classify("The game ended 2-1.", ["sports", "law"]).Labels,
                pipeline.Classify("The game ended 2-1.", ["sports", "law"]).Labels);
        }
        Assert.Equal(before + 1, bed.Hub.Requests.Count);                     // the pipeline resolves once: one HEAD
    }

    [Fact]
    public void AFastTokenizerRepoIsFetchedWithItsTokenizerJson()
    {
        using var bed = new HubTestBed();
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizer-json", "v3");
        bed.Hub.Add("org/fast-v3", FakeHub.FolderFiles(fixture));
        using (HubOptions.Use(bed.Options()))
        {
            var tokenizer = AutoTokenizer.FromPretrained("org/fast-v3");
            var local = AutoTokenizer.FromPretrained(fixture);
            Assert.IsType<DebertaTokenizerFast>(tokenizer);
            Assert.Equal(local.Encode("A soccer game, 2-1.").InputIds, tokenizer.Encode("A soccer game, 2-1.").InputIds);
        }
        string snapshot = Assert.Single(Directory.GetDirectories(Path.Combine(bed.Cache, "models--org--fast-v3", "snapshots")));
        Assert.True(File.Exists(Path.Combine(snapshot, "tokenizer.json")));
        Assert.False(File.Exists(Path.Combine(snapshot, "expected.json.gz")));
    }

    [Fact]
    public void RevisionMayBeABranchATagOrACommit()
    {
        using var bed = new HubTestBed();
        var v2 = new Dictionary<string, byte[]>(bed.Files)
        {
            ["config.json"] = System.Text.Encoding.UTF8.GetBytes(
                System.Text.Encoding.UTF8.GetString(bed.Files["config.json"]).Replace("\"entailment\"", "\"ENTAILS\"", StringComparison.Ordinal)),
        };
        string dev = bed.Hub.AddCommit(bed.Repo, v2, "dev");
        bed.Repo.Refs["v1.0"] = bed.Commit;                                   // a tag on the first commit

        string Label(string? revision)
        {
            string folder = PretrainedSource.Resolve(HubTestBed.RepoId, PretrainedFiles.Model, bed.Options(revision));
            return DebertaSharp.Configuration.DebertaConfig.FromPretrained(folder).Id2Label[2];
        }
        Assert.Equal("ENTAILS", Label("dev"));
        Assert.Equal("entailment", Label("v1.0"));
        Assert.Equal("entailment", Label(null));
        Assert.Equal("ENTAILS", Label(dev));
        Assert.Equal(dev, File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "dev")));
        Assert.Equal(bed.Commit, File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "v1.0")));
        Assert.False(File.Exists(Path.Combine(bed.RepoFolder, "refs", dev)));
        // Both commits share the weights blob: it was downloaded once.
        Assert.Equal(1, bed.Hub.Count("GET", bed.CdnPath("model.safetensors")));
    }

    [Fact]
    public void SubfolderAndShardedWeights()
    {
        using var bed = new HubTestBed();
        string shardA = "model-00001-of-00002.safetensors", shardB = "model-00002-of-00002.safetensors";
        var state = new Dictionary<string, Tensor>();
        using (var reader = DebertaSharp.Checkpoints.CheckpointReader.Open(HubTestBed.SampleFolder))
            foreach (string key in reader.Keys) state[key] = reader.Read(key);
        string temp = Path.Combine(bed.Root, "shards");
        Directory.CreateDirectory(temp);
        var keys = state.Keys.Order(StringComparer.Ordinal).ToList();
        var first = keys.Take(keys.Count / 2).ToHashSet();
        DebertaSharp.Checkpoints.SafetensorsWriter.Save(Path.Combine(temp, shardA), state.Where(kv => first.Contains(kv.Key)).ToDictionary(), new Dictionary<string, string> { ["format"] = "pt" });
        DebertaSharp.Checkpoints.SafetensorsWriter.Save(Path.Combine(temp, shardB), state.Where(kv => !first.Contains(kv.Key)).ToDictionary(), new Dictionary<string, string> { ["format"] = "pt" });
        string index = System.Text.Json.JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = keys.ToDictionary(k => k, k => first.Contains(k) ? shardA : shardB) });
        foreach (var t in state.Values) t.Dispose();
        var files = new Dictionary<string, byte[]>
        {
            ["README.md"] = "# sharded"u8.ToArray(),
            ["nli/config.json"] = bed.Files["config.json"],
            ["nli/model.safetensors.index.json"] = System.Text.Encoding.UTF8.GetBytes(index),
            ["nli/" + shardA] = File.ReadAllBytes(Path.Combine(temp, shardA)),
            ["nli/" + shardB] = File.ReadAllBytes(Path.Combine(temp, shardB)),
        };
        bed.Hub.Add("org/sharded", files);

        var options = bed.Options() with { Subfolder = "nli" };
        var snapshot = PretrainedSource.Download("org/sharded", PretrainedFiles.Model, options);
        Assert.Equal(["nli/config.json", "nli/model.safetensors.index.json", "nli/" + shardA, "nli/" + shardB], snapshot.Files.Select(f => f.File));
        Assert.EndsWith(Path.DirectorySeparatorChar + "nli", snapshot.Folder);
        using var local = DebertaForSequenceClassification.FromPretrained(HubTestBed.SampleFolder);
        using var model = DebertaForSequenceClassification.FromPretrained(snapshot.Folder);
        Assert.Equal(Logits(local), Logits(model));
    }

    [Fact]
    public void AnIndexIsCheckedByLoadingsRulesBeforeItsShardsAreFetched()
    {
        // The Hub's shard list and the checkpoint reader used to judge shard names apart: a shard in a subfolder was
        // downloaded and then refused at load. Now one reader decides, so the download refuses it and fetches nothing more.
        using var bed = new HubTestBed();
        string index = System.Text.Json.JsonSerializer.Serialize(new { weight_map = new Dictionary<string, string> { ["a.weight"] = "shards/model-00001-of-00001.safetensors" } });
        bed.Hub.Add("org/subfolder-shard", new Dictionary<string, byte[]>
        {
            ["config.json"] = bed.Files["config.json"],
            ["model.safetensors.index.json"] = System.Text.Encoding.UTF8.GetBytes(index),
            ["shards/model-00001-of-00001.safetensors"] = bed.Files["model.safetensors"],
        });
        var error = Assert.Throws<HubException>(() => PretrainedSource.Download("org/subfolder-shard", PretrainedFiles.Model, bed.Options()));
        Assert.Contains("model.safetensors.index.json", error.Message);
        Assert.Contains("shards/model-00001-of-00001.safetensors", error.Message);
        Assert.Equal(0, bed.Hub.Count("GET", bed.CdnPath("model.safetensors")));   // the shard holds these bytes
    }

    [Fact]
    public void WeightsFollowFromPretrainedsPreference()
    {
        using var bed = new HubTestBed();
        string golden = Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden", "deberta-v3-heads");
        bed.Hub.Add("org/tokcls-bin", FakeHub.FolderFiles(Path.Combine(golden, "tokcls-bin")));          // HF's pytorch_model.bin
        bed.Hub.Add("org/seqcls-sharded", FakeHub.FolderFiles(Path.Combine(golden, "seqcls-sharded")));  // HF's index + 3 shards

        var bin = PretrainedSource.Download("org/tokcls-bin", PretrainedFiles.Model, bed.Options());
        Assert.Equal(["config.json", "pytorch_model.bin"], bin.Files.Select(f => f.File));
        // config HEAD + GET; model.safetensors and its index answer 404 (one HEAD each); the .bin HEAD (302) + CDN GET.
        Assert.Equal(6, bed.Hub.Requests.Count);
        string noExist = Path.Combine(bed.Cache, "models--org--tokcls-bin", ".no_exist", bin.Commit);
        Assert.True(File.Exists(Path.Combine(noExist, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(noExist, "model.safetensors.index.json")));
        using (HubOptions.Use(bed.Options(bin.Commit)))
        using (var model = DebertaForTokenClassification.FromPretrained("org/tokcls-bin"))
        using (var local = DebertaForTokenClassification.FromPretrained(Path.Combine(golden, "tokcls-bin")))
            Assert.Equal(Logits(local), Logits(model));
        Assert.Equal(6, bed.Hub.Requests.Count);                            // pinned commit: .no_exist and the snapshot answer

        var sharded = PretrainedSource.Download("org/seqcls-sharded", PretrainedFiles.Model, bed.Options());
        Assert.Equal(["config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors",
            "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"], sharded.Files.Select(f => f.File));
        Assert.False(File.Exists(Path.Combine(sharded.Folder, "expected.safetensors")));   // only what loading needs
        using var shardedModel = DebertaForSequenceClassification.FromPretrained(sharded.Folder);
        using var shardedLocal = DebertaForSequenceClassification.FromPretrained(Path.Combine(golden, "seqcls-sharded"));
        Assert.Equal(Logits(shardedLocal), Logits(shardedModel));
    }

    [Fact]
    public void ARenamedRepositoryIsFollowed()
    {
        using var bed = new HubTestBed();
        bed.Hub.Renamed["old-org/tiny"] = HubTestBed.RepoId;
        var snapshot = PretrainedSource.Download("old-org/tiny", PretrainedFiles.Model, bed.Options());
        Assert.Equal(bed.Commit, snapshot.Commit);
        Assert.Contains("models--old-org--tiny", snapshot.Folder);                // cached under the name asked for, as Python does
        Assert.Equal(bed.Files["model.safetensors"], File.ReadAllBytes(snapshot.Files[1].Path));
        Assert.Equal(2, bed.Hub.Count("HEAD", "/old-org/tiny/"));                 // one relative redirect per metadata request
    }

    [Fact]
    public void RepoIdsAndPaths()
    {
        Assert.True(PretrainedSource.IsRepoId("microsoft/deberta-v3-base"));
        Assert.True(PretrainedSource.IsRepoId("cross-encoder/nli-deberta-v3-base"));
        Assert.True(PretrainedSource.IsRepoId("gpt2"));
        Assert.True(PretrainedSource.IsRepoId("org_1/name.v2"));
        Assert.False(PretrainedSource.IsRepoId("/abs/path"));
        Assert.False(PretrainedSource.IsRepoId("./model"));
        Assert.False(PretrainedSource.IsRepoId("a/b/c"));
        Assert.False(PretrainedSource.IsRepoId("org--x/name"));
        Assert.False(PretrainedSource.IsRepoId("org/na..me"));
        Assert.False(PretrainedSource.IsRepoId("org/-name"));
        Assert.False(PretrainedSource.IsRepoId(@"C:\models\x"));
        // An existing folder wins, and a snapshot folder passed back in is used as it is (no second resolution).
        Assert.Equal(HubTestBed.SampleFolder, PretrainedSource.Resolve(HubTestBed.SampleFolder));
        Assert.Equal("/no/such/folder", PretrainedSource.Resolve("/no/such/folder"));
        Assert.Matches("^.+$", PretrainedSource.Glob("*.json").ToString());
        Assert.Matches(PretrainedSource.Glob("*.json"), "nli/config.json");
        Assert.DoesNotMatch(PretrainedSource.Glob("*.json"), "model.safetensors");
        Assert.Matches(PretrainedSource.Glob("spm.[m]odel"), "spm.model");
    }

    [Fact]
    public void EnvironmentVariablesFollowHuggingfaceHub()
    {
        var home = new HubOptions { Environment = new Dictionary<string, string?> { ["HF_HOME"] = "/h" } };
        Assert.Equal(Path.Combine("/h", "hub"), home.EffectiveCacheDir);
        Assert.Equal("https://huggingface.co", home.EffectiveEndpoint);
        Assert.False(home.EffectiveOffline);
        var cache = new HubOptions { Environment = new Dictionary<string, string?> { ["HF_HOME"] = "/h", ["HF_HUB_CACHE"] = "/c", ["HF_ENDPOINT"] = "http://x/", ["HF_HUB_OFFLINE"] = "yes" } };
        Assert.Equal("/c", cache.EffectiveCacheDir);
        Assert.Equal("http://x", cache.EffectiveEndpoint);
        Assert.True(cache.EffectiveOffline);
        var xdg = new HubOptions { Environment = new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = "/x" } };
        Assert.Equal(Path.Combine("/x", "huggingface", "hub"), xdg.EffectiveCacheDir);
        Assert.Equal("/o", (xdg with { CacheDir = "/o" }).EffectiveCacheDir);

        using var bed = new HubTestBed();
        File.WriteAllText(Path.Combine(bed.Root, "token"), "hf_from_file\n");
        Assert.Equal("hf_from_file", bed.Options().EffectiveToken);
        Assert.Equal("hf_env", (bed.Options() with { Environment = new Dictionary<string, string?>(bed.Environment) { ["HF_TOKEN"] = "hf_env" } }).EffectiveToken);
        Assert.Equal("hf_opt", (bed.Options() with { Token = "hf_opt" }).EffectiveToken);
    }
}
