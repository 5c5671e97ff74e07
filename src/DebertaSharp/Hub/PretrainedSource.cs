using System.Text.Json;
using System.Text.RegularExpressions;

namespace DebertaSharp.Hub;

/// <summary>Which files of a checkpoint <see cref="PretrainedSource.Resolve"/> makes available.</summary>
[Flags]
public enum PretrainedFiles
{
    /// <summary><c>config.json</c>.</summary>
    Config = 1,
    /// <summary>The weights, by <c>from_pretrained</c>'s preference: <c>model.safetensors</c>, else
    /// <c>model.safetensors.index.json</c> and its shards, else <c>pytorch_model.bin</c> (and its index).</summary>
    Weights = 2,
    /// <summary>The tokenizer files the repository has (<c>tokenizer.json</c>, <c>spm.model</c>, <c>vocab.json</c>,
    /// <c>merges.txt</c>, <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>, <c>added_tokens.json</c>)
    /// and <c>config.json</c> if present.</summary>
    Tokenizer = 4,
    /// <summary>What a model needs: config and weights.</summary>
    Model = Config | Weights,
    /// <summary>Model and tokenizer (pipelines).</summary>
    All = Config | Weights | Tokenizer,
    /// <summary>The sentence-transformers files when the repository has them: <c>modules.json</c>,
    /// <c>sentence_bert_config.json</c> and the <c>config.json</c> of every module folder it lists (e.g.
    /// <c>1_Pooling/config.json</c>).</summary>
    SentenceTransformer = 8,
}

/// <summary>
/// Turns what a user passes to <c>FromPretrained</c> into a local folder: an existing path is used as it is;
/// otherwise a hub repository id (<c>org/name</c> or <c>name</c>) is fetched into the shared <c>huggingface_hub</c>
/// cache (or read from it) and its snapshot folder is returned. Every <c>FromPretrained</c> of the library and every
/// <c>--model</c> of the CLI goes through <see cref="Resolve"/>.
/// </summary>
public static partial class PretrainedSource
{
    /// <summary>Weight files in <c>from_pretrained</c>'s order of preference.</summary>
    public static IReadOnlyList<string> WeightFiles { get; } =
        ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>The largest index or repository listing read (as the checkpoint reader's index limit).</summary>
    internal const long MaxListingBytes = 64L << 20;

    /// <summary>Tokenizer files fetched when present.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } =
        ["tokenizer_config.json", Tokenization.DebertaTokenizerFast.FileName, Tokenization.DebertaV2Tokenizer.ModelFileName,
         Tokenization.DebertaTokenizer.VocabFileName, Tokenization.DebertaTokenizer.MergesFileName, "special_tokens_map.json", "added_tokens.json"];

    /// <summary>
    /// The local folder for <paramref name="nameOrPath"/>: the path itself when it exists (or is empty, or not a valid repo id: the caller then reports it as a missing folder),
    /// else the cached snapshot of the hub repository (downloading the <paramref name="files"/> it lacks), with
    /// <see cref="HubOptions.Subfolder"/> applied. Options default to <see cref="HubOptions.Current"/>.
    /// </summary>
    /// <exception cref="HubException">The repository, revision or a required file is missing, access is refused,
    /// the download fails, or the files are neither reachable nor cached.</exception>
    public static string Resolve(string nameOrPath, PretrainedFiles files = PretrainedFiles.All, HubOptions? options = null,
        CancellationToken cancel = default)
    {
        if (string.IsNullOrEmpty(nameOrPath) || Directory.Exists(nameOrPath) || File.Exists(nameOrPath) || !IsRepoId(nameOrPath)) return nameOrPath;
        return Download(nameOrPath, files, options, cancel).Folder;
    }

    /// <summary>
    /// Whether <paramref name="name"/> has the form of a hub repository id (<c>huggingface_hub.validate_repo_id</c>):
    /// <c>name</c> or <c>org/name</c> of letters, digits, <c>-</c>, <c>_</c>, <c>.</c>, starting and ending with a
    /// letter or digit, without <c>--</c> or <c>..</c>, at most 96 characters.
    /// </summary>
    public static bool IsRepoId(string name) =>
        name.Length <= 96 && RepoIdPattern().IsMatch(name) && !name.Contains("--", StringComparison.Ordinal) &&
        !name.Contains("..", StringComparison.Ordinal) && !name.EndsWith(".git", StringComparison.Ordinal);

    [GeneratedRegex(@"^(?:[A-Za-z0-9_](?:[\w.\-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_](?:[\w.\-]*[A-Za-z0-9_])?$")]
    private static partial Regex RepoIdPattern();

    /// <summary>
    /// Fetches (or finds in the cache) the checkpoint files of hub repository <paramref name="repoId"/> and reports
    /// where each one is. Options default to <see cref="HubOptions.Current"/>.
    /// </summary>
    /// <exception cref="HubException">As <see cref="Resolve"/>.</exception>
    public static HubSnapshot Download(string repoId, PretrainedFiles files = PretrainedFiles.All, HubOptions? options = null,
        CancellationToken cancel = default)
    {
        if ((files & (PretrainedFiles.All | PretrainedFiles.SentenceTransformer)) == 0) throw new ArgumentOutOfRangeException(nameof(files), files, "Ask for at least one kind of file.");
        options ??= HubOptions.Current;
        CheckRepoId(repoId);
        string prefix = Prefix(options);
        using var repo = new HubRepository(repoId, options);
        var found = new List<string>();
        void Add(string? path, string file) { if (path is not null) found.Add(file); }

        bool tokenizerOnly = (files & (PretrainedFiles.Config | PretrainedFiles.Weights)) == 0;
        bool wantConfig = (files & PretrainedFiles.Config) != 0 || (files & PretrainedFiles.Tokenizer) != 0;
        if (wantConfig) Add(repo.Get(prefix + "config.json", required: !tokenizerOnly, cancel), prefix + "config.json");
        if ((files & PretrainedFiles.Weights) != 0) found.AddRange(Weights(repo, prefix, cancel));
        if ((files & PretrainedFiles.Tokenizer) != 0)
            foreach (string name in TokenizerFiles) Add(repo.Get(prefix + name, required: false, cancel), prefix + name);
        if ((files & PretrainedFiles.SentenceTransformer) != 0)
        {
            Add(repo.Get(prefix + "sentence_bert_config.json", required: false, cancel), prefix + "sentence_bert_config.json");
            if (repo.Get(prefix + "modules.json", required: false, cancel) is { } modules)
            {
                found.Add(prefix + "modules.json");
                foreach (string folder in ModuleFolders(modules, repo, prefix + "modules.json"))
                    Add(repo.Get(prefix + folder + "/config.json", required: false, cancel), prefix + folder + "/config.json");
            }
        }
        return Snapshot(repo, options, found);
    }

    /// <summary>
    /// Downloads every file of the repository whose path matches one of <paramref name="patterns"/> (shell globs as
    /// <c>huggingface_hub</c>'s <c>allow_patterns</c>: <c>*</c> matches any characters, <c>/</c> included). Lists the
    /// repository with the hub's API, so it needs the network unless every matching file is listed in the cache.
    /// </summary>
    /// <exception cref="HubException">As <see cref="Resolve"/>; also when no file matches.</exception>
    public static HubSnapshot Download(string repoId, IReadOnlyList<string> patterns, HubOptions? options = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        options ??= HubOptions.Current;
        CheckRepoId(repoId);
        using var repo = new HubRepository(repoId, options);
        IReadOnlyList<string> all = repo.ListFiles(cancel);
        var regexes = patterns.Select(Glob).ToList();
        var matching = all.Where(f => regexes.Any(r => r.IsMatch(f))).ToList();
        if (matching.Count == 0)
            throw new EntryNotFoundException(
                $"No file of '{repoId}' (revision '{repo.Revision}') matches {string.Join(", ", patterns.Select(p => $"'{p}'"))}.",
                repoId, repo.Revision, null);
        foreach (string file in matching) repo.Get(file, required: true, cancel);
        return Snapshot(repo, options, matching);
    }

    private static void CheckRepoId(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        if (!IsRepoId(repoId))
            throw new HubException(
                $"'{repoId}' is neither an existing folder nor a hub repository id (org/name: letters, digits, '-', '_', '.').", repoId);
    }

    private static string Prefix(HubOptions options) =>
        options.Subfolder is { Length: > 0 } sub ? sub.Replace('\\', '/').Trim('/') + "/" : "";

    private static HubSnapshot Snapshot(HubRepository repo, HubOptions options, List<string> files)
    {
        string commit = repo.Commit!;
        string folder = repo.Cache.SnapshotFolder(commit);
        if (options.Subfolder is { Length: > 0 }) folder = Path.Combine(folder, Prefix(options).TrimEnd('/'));
        var entries = files.Select(f =>
        {
            string path = repo.Cache.SnapshotPath(commit, f);
            return new HubSnapshotFile(f, path, HubCache.SizeOf(path), repo.Downloaded.Contains(f));
        }).ToList();
        return new HubSnapshot(repo.RepoId, repo.Revision, commit, folder, entries);
    }

    /// <summary>The weights in <c>from_pretrained</c>'s order: the first that exists, and the shards its index names.</summary>
    private static List<string> Weights(HubRepository repo, string prefix, CancellationToken cancel)
    {
        foreach (string name in WeightFiles)
        {
            if (repo.Get(prefix + name, required: false, cancel) is not { } path) continue;
            var files = new List<string> { prefix + name };
            if (name.EndsWith(".index.json", StringComparison.Ordinal))
                foreach (string shard in Shards(path, repo, prefix + name))
                {
                    repo.Get(prefix + shard, required: true, cancel);
                    files.Add(prefix + shard);
                }
            return files;
        }
        string tried = string.Join(", ", WeightFiles.Select(w => prefix + w));
        if (repo.CacheOnly)
            throw new HubNotCachedException(
                $"No weights of '{repo.RepoId}' (revision '{repo.Revision}') are in the cache ({repo.Cache.CacheDir}) and offline mode is on (HF_HUB_OFFLINE=1): looked for {tried}.",
                repo.RepoId, repo.Revision, prefix + WeightFiles[0], offline: true);
        if (repo.FallbackCause is HubException refused) throw refused;
        if (repo.FallbackCause is { } cause)
            throw new HubNotCachedException(
                $"No weights of '{repo.RepoId}' (revision '{repo.Revision}') are in the cache ({repo.Cache.CacheDir}) and the hub cannot be reached ({cause.Message}): looked for {tried}.",
                repo.RepoId, repo.Revision, prefix + WeightFiles[0], offline: false, cause);
        throw new EntryNotFoundException(
            $"'{repo.RepoId}' has no weights at revision '{repo.Revision}': looked for {tried}.",
            repo.RepoId, repo.Revision, prefix + WeightFiles[0]);
    }

    /// <summary>The module folders (<c>path</c>s) a sentence-transformers <c>modules.json</c> lists, checked to stay inside the repository.</summary>
    private static IEnumerable<string> ModuleFolders(string modulesPath, HubRepository repo, string modulesFile)
    {
        using var doc = StrictJson.ParseFile(modulesPath, MaxListingBytes,
            (message, inner) => new HubException($"'{modulesFile}' of '{repo.RepoId}': {message}", repo.RepoId, repo.Revision, modulesFile, inner));
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new HubException($"'{modulesFile}' of '{repo.RepoId}' is not a JSON array of modules.", repo.RepoId, repo.Revision, modulesFile);
        var folders = new List<string>();
        foreach (var module in doc.RootElement.EnumerateArray())
        {
            if (module.ValueKind != JsonValueKind.Object || !module.TryGetProperty("path", out var path) || path.ValueKind != JsonValueKind.String)
                continue;
            string folder = path.GetString()!.Trim('/');
            if (folder.Length == 0) continue;                                   // the Transformer module at the root
            if (folder.Contains("..", StringComparison.Ordinal) || folder.Contains('\\') || folder.StartsWith('/'))
                throw new HubException($"'{modulesFile}' of '{repo.RepoId}' names module path '{folder}' outside the repository.",
                    repo.RepoId, repo.Revision, modulesFile);
            folders.Add(folder);
        }
        return folders;
    }

    /// <summary>The distinct shard names of an index's <c>weight_map</c>, by loading's own rules (<see cref="Checkpoints.CheckpointReader.ReadWeightMap"/>), in name order.</summary>
    private static IEnumerable<string> Shards(string indexPath, HubRepository repo, string indexFile)
    {
        try
        {
            return Checkpoints.CheckpointReader.ReadWeightMap(indexPath).Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        }
        catch (CheckpointException ex)
        {
            throw new HubException($"'{indexFile}' of '{repo.RepoId}' is not a valid index: {ex.Message}", repo.RepoId, repo.Revision, indexFile, ex);
        }
    }

    /// <summary>A shell glob as <c>fnmatch</c> reads it: <c>*</c>, <c>?</c> and <c>[…]</c>; the whole path must match.</summary>
    internal static Regex Glob(string pattern)
    {
        var sb = new System.Text.StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*': sb.Append(".*"); break;
                case '?': sb.Append('.'); break;
                case '[':
                    int close = pattern.IndexOf(']', i + 1);
                    if (close < 0) { sb.Append(@"\["); break; }
                    string set = pattern[(i + 1)..close];
                    sb.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                    i = close;
                    break;
                default: sb.Append(Regex.Escape(c.ToString())); break;
            }
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }
}

/// <summary>The files of one repository at one commit, in the local cache.</summary>
/// <param name="RepoId">The repository id.</param>
/// <param name="Revision">The revision asked for.</param>
/// <param name="Commit">The commit it stands for.</param>
/// <param name="Folder">The snapshot folder (with the subfolder, if one was asked for): pass it to <c>FromPretrained</c>.</param>
/// <param name="Files">Each file found, with its size and whether this call downloaded it.</param>
public sealed record HubSnapshot(string RepoId, string Revision, string Commit, string Folder, IReadOnlyList<HubSnapshotFile> Files);

/// <summary>One file of a <see cref="HubSnapshot"/>.</summary>
/// <param name="File">Path inside the repository.</param>
/// <param name="Path">Local path (a link into <c>blobs/</c>).</param>
/// <param name="Bytes">Size.</param>
/// <param name="Downloaded">True when this call downloaded it; false when it was already cached.</param>
public sealed record HubSnapshotFile(string File, string Path, long Bytes, bool Downloaded);
