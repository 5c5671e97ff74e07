using System.Text.RegularExpressions;

namespace DebertaSharp.Hub;

/// <summary>
/// The cache layout of <c>huggingface_hub</c> for one model repository, so that Python and .NET share files:
/// <c>{cache}/models--{org}--{name}/blobs/{etag}</c>, <c>refs/{revision}</c> holding the commit hash,
/// <c>snapshots/{commit}/{file}</c> as a relative symlink to the blob (a copy where links cannot be made), and
/// <c>.no_exist/{commit}/{file}</c> for files known to be absent. Locks live in <c>{cache}/.locks/models--…/{etag}.lock</c>.
/// </summary>
public sealed partial class HubCache
{
    /// <summary>Opens (without creating anything) the cache of <paramref name="repoId"/> under <paramref name="cacheDir"/>.</summary>
    public HubCache(string cacheDir, string repoId)
    {
        CacheDir = cacheDir;
        RepoId = repoId;
        RepoFolder = Path.Combine(cacheDir, FolderName(repoId));
    }

    /// <summary>The hub cache folder.</summary>
    public string CacheDir { get; }

    /// <summary>The repository id.</summary>
    public string RepoId { get; }

    /// <summary><c>{cache}/models--{org}--{name}</c>.</summary>
    public string RepoFolder { get; }

    /// <summary><c>models--{org}--{name}</c>, as <c>huggingface_hub.file_download.repo_folder_name</c>.</summary>
    public static string FolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>Whether <paramref name="revision"/> is a full 40-hex commit hash.</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    /// <summary>The snapshot folder of <paramref name="commit"/>.</summary>
    public string SnapshotFolder(string commit) => Path.Combine(RepoFolder, "snapshots", commit);

    /// <summary>The snapshot path of <paramref name="file"/> at <paramref name="commit"/> (it may not exist).</summary>
    public string SnapshotPath(string commit, string file) => Path.Combine(SnapshotFolder(commit), Native(file));

    internal string BlobPath(string etag) => Path.Combine(RepoFolder, "blobs", etag);

    internal string LockPath(string etag) => Path.Combine(CacheDir, ".locks", FolderName(RepoId), etag + ".lock");

    private string NoExistPath(string commit, string file) => Path.Combine(RepoFolder, ".no_exist", commit, Native(file));

    private string RefPath(string revision) => Path.Combine(RepoFolder, "refs", Native(revision));

    private static string Native(string repoPath) => repoPath.Replace('/', Path.DirectorySeparatorChar);

    /// <summary>
    /// The commit a revision stands for in the cache: a commit hash itself, or the content of <c>refs/{revision}</c>;
    /// <c>null</c> when the cache knows nothing of it.
    /// </summary>
    public string? CommitOf(string revision)
    {
        string refPath = RefPath(revision);
        if (File.Exists(refPath) && File.ReadAllText(refPath).Trim() is { Length: > 0 } commit) return commit;
        return IsCommitHash(revision) && Directory.Exists(SnapshotFolder(revision)) ? revision : null;
    }

    /// <summary>The cached file at <paramref name="commit"/>, or <c>null</c> (also for a dangling link).</summary>
    public string? Find(string commit, string file) => File.Exists(SnapshotPath(commit, file)) ? SnapshotPath(commit, file) : null;

    /// <summary>Whether <c>.no_exist</c> records that the repository has no <paramref name="file"/> at <paramref name="commit"/>.</summary>
    public bool KnownAbsent(string commit, string file) => File.Exists(NoExistPath(commit, file));

    /// <summary>Writes <c>refs/{revision}</c> when the revision is not the commit itself (as huggingface_hub does).</summary>
    internal void SaveRef(string revision, string commit)
    {
        if (revision == commit) return;
        string path = RefPath(revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        IO.AtomicFile.WriteAllText(path, commit, (message, inner) =>
            new HubDownloadException($"{message}; is the cache '{CacheDir}' writable?", RepoId, revision, null, inner));
    }

    /// <summary>Records that <paramref name="file"/> does not exist at <paramref name="commit"/>.</summary>
    internal void SaveAbsent(string commit, string file)
    {
        string path = NoExistPath(commit, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path)) File.WriteAllBytes(path, []);
    }

    /// <summary>
    /// Points <c>snapshots/{commit}/{file}</c> at the blob with a relative symlink (a copy where links are refused);
    /// the link appears atomically, by rename.
    /// </summary>
    internal string Link(string commit, string file, string blobPath)
    {
        string pointer = SnapshotPath(commit, file);
        string folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        string temp = pointer + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            try
            {
                File.CreateSymbolicLink(temp, Path.GetRelativePath(folder, blobPath));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                File.Copy(blobPath, temp, overwrite: true);                  // no symlinks here (Windows without developer mode)
            }
            File.Move(temp, pointer, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp) || new FileInfo(temp).LinkTarget is not null) File.Delete(temp);
        }
        return pointer;
    }

    /// <summary>The size of a file or of the file a link points at (<see cref="FileInfo.Length"/> of a link is the link's own).</summary>
    public static long SizeOf(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Length : ((FileInfo)info.ResolveLinkTarget(returnFinalTarget: true)!).Length;
    }

    /// <summary>What the cache holds for this repository: revisions, snapshots and their files.</summary>
    public HubCacheInfo Describe()
    {
        var refs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string refsFolder = Path.Combine(RepoFolder, "refs");
        if (Directory.Exists(refsFolder))
            foreach (var path in Directory.EnumerateFiles(refsFolder, "*", SearchOption.AllDirectories))
                refs[Path.GetRelativePath(refsFolder, path).Replace(Path.DirectorySeparatorChar, '/')] = File.ReadAllText(path).Trim();
        var snapshots = new List<HubSnapshotInfo>();
        string snapshotsFolder = Path.Combine(RepoFolder, "snapshots");
        if (Directory.Exists(snapshotsFolder))
            foreach (var folder in Directory.EnumerateDirectories(snapshotsFolder).Order(StringComparer.Ordinal))
            {
                var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                    .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal)
                    .Select(f => new HubCachedFile(Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'),
                        File.Exists(f) ? SizeOf(f) : null))
                    .ToList();
                string commit = Path.GetFileName(folder);
                snapshots.Add(new HubSnapshotInfo(commit, refs.Where(r => r.Value == commit).Select(r => r.Key).ToList(), folder, files));
            }
        long blobBytes = Directory.Exists(Path.Combine(RepoFolder, "blobs"))
            ? Directory.EnumerateFiles(Path.Combine(RepoFolder, "blobs")).Where(f => !f.EndsWith(".incomplete", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length)
            : 0;
        return new HubCacheInfo(RepoId, RepoFolder, Directory.Exists(RepoFolder), refs, snapshots, blobBytes);
    }
}

/// <summary>What <see cref="HubCache.Describe"/> found.</summary>
/// <param name="RepoId">The repository id.</param>
/// <param name="Folder">Its cache folder.</param>
/// <param name="Exists">Whether anything is cached.</param>
/// <param name="Refs">Revision name → commit hash (<c>refs/</c>).</param>
/// <param name="Snapshots">One entry per cached commit.</param>
/// <param name="BlobBytes">Bytes held in <c>blobs/</c> (complete files only).</param>
public sealed record HubCacheInfo(string RepoId, string Folder, bool Exists, IReadOnlyDictionary<string, string> Refs,
    IReadOnlyList<HubSnapshotInfo> Snapshots, long BlobBytes);

/// <summary>One cached commit.</summary>
/// <param name="Commit">The commit hash.</param>
/// <param name="Refs">Revision names that point at it.</param>
/// <param name="Folder">The snapshot folder.</param>
/// <param name="Files">Its files.</param>
public sealed record HubSnapshotInfo(string Commit, IReadOnlyList<string> Refs, string Folder, IReadOnlyList<HubCachedFile> Files);

/// <summary>One file of a snapshot.</summary>
/// <param name="File">Path inside the repository.</param>
/// <param name="Bytes">Size of the blob it points at; <c>null</c> for a dangling link.</param>
public sealed record HubCachedFile(string File, long? Bytes);
