using System.Net;
using System.Net.Http.Headers;

namespace DebertaSharp.Hub;

/// <summary>
/// One repository at one revision, read through the cache and, unless offline, the hub — the C# counterpart of
/// <c>huggingface_hub.hf_hub_download</c>. The first file asked for turns a branch or tag into a commit (one metadata
/// request); later files use that commit, and a file already cached under it, or recorded in <c>.no_exist</c>, costs
/// no request (as <c>transformers</c> does with its <c>_commit_hash</c>).
/// </summary>
internal sealed class HubRepository : IDisposable
{
    private const int BufferSize = 1 << 16;
    private readonly HubOptions _options;
    private readonly string _endpoint;
    private readonly string? _token;
    private HttpClient? _metadataClient;    // redirects by hand: the hub's 302 carries the metadata
    private HttpClient? _downloadClient;    // follows redirects to the CDN, dropping the token on the way
    private Exception? _unreachable;        // set once the hub could not be reached or refused: the rest comes from the cache

    public HubRepository(string repoId, HubOptions options)
    {
        RepoId = repoId;
        _options = options;
        Revision = options.EffectiveRevision;
        _endpoint = options.EffectiveEndpoint;
        _token = options.EffectiveToken;
        Cache = new HubCache(options.EffectiveCacheDir, repoId);
        CacheOnly = options.EffectiveOffline;
        // A commit hash needs no request to resolve; a branch or tag does, unless offline (then refs/ says).
        Commit = HubCache.IsCommitHash(Revision) ? Revision : CacheOnly ? Cache.CommitOf(Revision) : null;
    }

    public string RepoId { get; }

    public string Revision { get; }

    public HubCache Cache { get; }

    /// <summary>The commit the revision resolved to, once known.</summary>
    public string? Commit { get; private set; }

    /// <summary>Offline mode: the network is never used.</summary>
    public bool CacheOnly { get; }

    /// <summary>Why the cache alone answers (the hub unreachable, or refusing): <c>null</c> while the hub is used.</summary>
    public Exception? FallbackCause => _unreachable;

    /// <summary>Files that were downloaded (not found in the cache) by this instance.</summary>
    public HashSet<string> Downloaded { get; } = new(StringComparer.Ordinal);

    public void Dispose()
    {
        _metadataClient?.Dispose();
        _downloadClient?.Dispose();
    }

    /// <summary>
    /// The local path of <paramref name="file"/> (a path inside the repository), downloading it when needed;
    /// <c>null</c> when the repository does not have it and it is not <paramref name="required"/>.
    /// </summary>
    public string? Get(string file, bool required, CancellationToken cancel)
    {
        if (Commit is { } known)
        {
            if (Cache.Find(known, file) is { } cached) return Report(file, cached, HubFileState.Cached);
            if (Cache.KnownAbsent(known, file)) return Absent(file, required);
        }
        if (CacheOnly || _unreachable is not null) return FromCacheOnly(file, required);

        Metadata meta;
        try
        {
            meta = Head(file, cancel);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null && !cancel.IsCancellationRequested)
        {
            return Unreachable(ex, file, required);
        }
        catch (TaskCanceledException ex) when (!cancel.IsCancellationRequested)
        {
            return Unreachable(ex, file, required);                              // connect timeout
        }
        catch (HubException ex) when (ex is not (RevisionNotFoundException or EntryNotFoundException)
                                      && (Commit ?? Cache.CommitOf(Revision)) is { } cachedCommit && Cache.Find(cachedCommit, file) is not null)
        {
            // As huggingface_hub: refused (401/403, a private repo without a token) or a failing hub (5xx), yet the
            // file is cached — use the cache for the rest; a required file that is not cached then gets this error.
            return Unreachable(ex, file, required);
        }
        if (meta.Commit is { } commit)
        {
            Cache.SaveRef(Revision, commit);
            Commit = commit;
        }
        if (meta.Missing)
        {
            if (meta.Commit is { } c) Cache.SaveAbsent(c, file);
            return Absent(file, required);
        }
        if (meta.Commit is null || meta.Etag is null)
            throw new HubException(
                $"{_endpoint} answered for '{file}' of '{RepoId}' (revision '{Revision}') without the X-Repo-Commit and ETag headers of a Hugging Face hub; check HF_ENDPOINT.",
                RepoId, Revision, file);
        if (Cache.Find(meta.Commit, file) is { } present) return Report(file, present, HubFileState.Cached);
        return Download(file, meta, cancel);
    }

    /// <summary>
    /// Every file of the repository at the revision, from the hub's API (<c>GET /api/models/{repo}/revision/{rev}</c>,
    /// its <c>siblings</c>); offline or unreachable, the files of the cached snapshot.
    /// </summary>
    public IReadOnlyList<string> ListFiles(CancellationToken cancel)
    {
        if (!CacheOnly)
        {
            _metadataClient ??= new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = _options.ConnectTimeout });
            var url = new Uri($"{_endpoint}/api/models/{RepoId}/revision/{Uri.EscapeDataString(Revision)}");
            try
            {
                using var request = Request(HttpMethod.Get, url);
                using var response = _metadataClient.Send(request, HttpCompletionOption.ResponseHeadersRead, cancel);
                if (!response.IsSuccessStatusCode) throw Failure(response, "(file list)");
                using var doc = StrictJson.Parse(ReadBounded(response, url, cancel), url.ToString(),
                    (message, inner) => new HubException($"{message}; check HF_ENDPOINT.", RepoId, Revision, null, inner));
                if (doc.RootElement.TryGetProperty("sha", out var sha) && sha.GetString() is { Length: > 0 } commit)
                {
                    Cache.SaveRef(Revision, commit);
                    Commit = commit;
                }
                if (!doc.RootElement.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != System.Text.Json.JsonValueKind.Array || Commit is null)
                    throw new HubException($"{url} did not answer a repository description (sha, siblings); check HF_ENDPOINT.", RepoId, Revision);
                return siblings.EnumerateArray().Select(s => s.GetProperty("rfilename").GetString()!).ToList();
            }
            catch (HttpRequestException ex) when (ex.StatusCode is null && !cancel.IsCancellationRequested)
            {
                _unreachable = ex;
            }
            catch (TaskCanceledException ex) when (!cancel.IsCancellationRequested)
            {
                _unreachable = ex;
            }
            Commit ??= Cache.CommitOf(Revision);
        }
        string why = CacheOnly ? "offline mode is on (HF_HUB_OFFLINE=1)" : $"the hub at {_endpoint} cannot be reached ({_unreachable!.Message})";
        if (Commit is not { } known || !Directory.Exists(Cache.SnapshotFolder(known)))
            throw new HubNotCachedException($"'{RepoId}' at revision '{Revision}' is not in the cache ({Cache.CacheDir}) and {why}.",
                RepoId, Revision, null, CacheOnly, _unreachable);
        return Cache.Describe().Snapshots.First(s => s.Commit == known).Files.Select(f => f.File).ToList();
    }

    /// <summary>The body of a JSON answer, refused beyond <see cref="PretrainedSource.MaxListingBytes"/>.</summary>
    private byte[] ReadBounded(HttpResponseMessage response, Uri url, CancellationToken cancel)
    {
        using var body = response.Content.ReadAsStream(cancel);
        using var bytes = new MemoryStream();
        var buffer = new byte[BufferSize];
        for (int n; (n = body.Read(buffer, 0, buffer.Length)) > 0;)
        {
            if (bytes.Length + n > PretrainedSource.MaxListingBytes)
                throw new HubException($"{url} answered more than {PretrainedSource.MaxListingBytes} bytes for a repository listing; check HF_ENDPOINT.", RepoId, Revision);
            bytes.Write(buffer, 0, n);
        }
        return bytes.ToArray();
    }

    private string? Report(string file, string? path, HubFileState state)
    {
        long bytes = path is null ? 0 : HubCache.SizeOf(path);
        _options.Progress?.Report(new HubFileProgress(file, state, bytes, path is null ? null : bytes));
        return path;
    }

    private string? Absent(string file, bool required)
    {
        if (required)
            throw new EntryNotFoundException(
                $"'{RepoId}' has no file '{file}' at revision '{Revision}'{(Commit is { } c && c != Revision ? $" (commit {c})" : "")}; the checkpoint needs it.",
                RepoId, Revision, file);
        return Report(file, null, HubFileState.Absent);
    }

    private string? Unreachable(Exception cause, string file, bool required)
    {
        _unreachable = cause;
        Commit ??= Cache.CommitOf(Revision);
        return FromCacheOnly(file, required);
    }

    /// <summary>Offline or unreachable: the cache answers alone; an unknown optional file counts as absent.</summary>
    private string? FromCacheOnly(string file, bool required)
    {
        string why = CacheOnly
            ? "offline mode is on (HF_HUB_OFFLINE=1)"
            : $"the hub at {_endpoint} cannot be reached ({_unreachable!.Message})";
        if (Commit is not { } commit)
            throw new HubNotCachedException(
                $"'{RepoId}' is not a local folder, and at revision '{Revision}' it is not in the hub cache ({Cache.CacheDir}) and {why}.",
                RepoId, Revision, file, CacheOnly, _unreachable);
        if (Cache.Find(commit, file) is { } cached) return Report(file, cached, HubFileState.Cached);
        if (!required) return Report(file, null, HubFileState.Absent);
        if (_unreachable is HubException refused) throw refused;
        throw new HubNotCachedException(
            $"'{file}' of '{RepoId}' (revision '{Revision}', commit {commit}) is not in the cache ({Cache.CacheDir}) and {why}.",
            RepoId, Revision, file, CacheOnly, _unreachable);
    }

    private sealed record Metadata(string? Commit, string? Etag, long? Size, Uri? DownloadUrl, bool Missing);

    private Uri ResolveUrl(string file)
    {
        string revision = Commit ?? Revision;
        string path = string.Join('/', file.Split('/').Select(Uri.EscapeDataString));
        return new Uri($"{_endpoint}/{RepoId}/resolve/{Uri.EscapeDataString(revision)}/{path}");
    }

    private HttpRequestMessage Request(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.UserAgent.ParseAdd("DebertaSharp/" + typeof(HubRepository).Assembly.GetName().Version);
        if (_token is not null && url.Host == new Uri(_endpoint).Host)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        return request;
    }

    /// <summary>
    /// The metadata request (HEAD on <c>resolve</c>, <c>Accept-Encoding: identity</c>): relative redirects are followed
    /// (renamed repositories), an absolute one is the CDN address the download then uses.
    /// </summary>
    private Metadata Head(string file, CancellationToken cancel)
    {
        _metadataClient ??= new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = _options.ConnectTimeout });
        Uri url = ResolveUrl(file);
        for (int hop = 0; ; hop++)
        {
            using var request = Request(HttpMethod.Head, url);
            request.Headers.AcceptEncoding.ParseAdd("identity");
            using var response = _metadataClient.Send(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            int status = (int)response.StatusCode;
            string? commit = Header(response, "X-Repo-Commit");
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (!location.IsAbsoluteUri && hop < 10)
                {
                    url = new Uri(url, location);
                    continue;
                }
                return new Metadata(commit, Etag(response), Size(response), location.IsAbsoluteUri ? location : new Uri(url, location), false);
            }
            if (response.IsSuccessStatusCode) return new Metadata(commit, Etag(response), Size(response), url, false);
            if (ErrorCode(response) is "EntryNotFound" || (status == 404 && ErrorCode(response) is null))
                return new Metadata(commit, null, null, null, true);
            throw Failure(response, file);
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()
        : response.Content.Headers.TryGetValues(name, out var content) ? content.FirstOrDefault() : null;

    private static string? ErrorCode(HttpResponseMessage response) => Header(response, "X-Error-Code");

    /// <summary><c>X-Linked-Etag</c> (LFS files) else <c>ETag</c>, without <c>W/</c> and quotes: the blob's name.</summary>
    private static string? Etag(HttpResponseMessage response)
    {
        string? raw = Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.Tag ?? Header(response, "ETag");
        if (raw is null) return null;
        if (raw.StartsWith("W/", StringComparison.Ordinal)) raw = raw[2..];
        raw = raw.Trim('"');
        return raw.Length == 0 || raw.Contains('/') || raw.Contains('\\') || raw.Contains("..", StringComparison.Ordinal) ? null : raw;
    }

    private static long? Size(HttpResponseMessage response) =>
        long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked : response.Content.Headers.ContentLength;

    /// <summary>The error an HTTP failure stands for, from the hub's <c>X-Error-Code</c> header, else its status.</summary>
    private HubException Failure(HttpResponseMessage response, string file)
    {
        int status = (int)response.StatusCode;
        string? code = ErrorCode(response);
        string? hubMessage = Header(response, "X-Error-Message");
        string detail = hubMessage is { Length: > 0 } ? $" The hub says: {hubMessage}" : "";
        string tokenHint = _token is null
            ? "No token was sent: set HF_TOKEN (or put one in $HF_HOME/token) for gated or private repositories."
            : "A token was sent (HF_TOKEN or $HF_HOME/token) but was not accepted for this repository.";
        return code switch
        {
            "GatedRepo" => new HubAuthenticationException(
                $"'{RepoId}' is a gated repository ({status}): accept its conditions on the hub, then set HF_TOKEN to a token of that account. {tokenHint}{detail}",
                RepoId, Revision, file),
            "RepoNotFound" => new RepositoryNotFoundException(
                $"Repository '{RepoId}' was not found on {_endpoint} ({status}), and no local folder has that name; if it is private, set HF_TOKEN.{detail}",
                RepoId, Revision),
            "RevisionNotFound" => new RevisionNotFoundException(
                $"'{RepoId}' has no branch, tag or commit '{Revision}' ({status}).{detail}", RepoId, Revision),
            _ when status is 401 or 403 => new HubAuthenticationException(
                $"Access to '{RepoId}' was refused ({status}): the repository is gated or private. {tokenHint}{detail}",
                RepoId, Revision, file),
            _ when status == 404 => new RepositoryNotFoundException(
                $"Repository '{RepoId}' or revision '{Revision}' was not found on {_endpoint} (404).{detail}", RepoId, Revision),
            _ => new HubException(
                $"{_endpoint} answered {status} {response.ReasonPhrase} for '{file}' of '{RepoId}' (revision '{Revision}').{detail}",
                RepoId, Revision, file),
        };
    }

    /// <summary>
    /// Downloads into <c>blobs/{etag}.incomplete</c> under the blob's lock (resuming a partial file with a Range
    /// request), checks the size, renames it to <c>blobs/{etag}</c> and links the snapshot.
    /// </summary>
    private string Download(string file, Metadata meta, CancellationToken cancel)
    {
        string commit = meta.Commit!, etag = meta.Etag!;
        string blob = Cache.BlobPath(etag);
        if (File.Exists(blob)) return Report(file, Cache.Link(commit, file, blob), HubFileState.Cached)!;
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        using (AcquireLock(Cache.LockPath(etag), file, cancel))
        {
            if (!File.Exists(blob)) Fetch(file, meta, blob, cancel);          // another process may have finished it meanwhile
            else return Report(file, Cache.Link(commit, file, blob), HubFileState.Cached)!;
        }
        Downloaded.Add(file);
        return Report(file, Cache.Link(commit, file, blob), HubFileState.Downloaded)!;
    }

    /// <summary>An exclusive lock on the lock file (flock on Unix, as Python's <c>filelock</c> takes it).</summary>
    private FileStream AcquireLock(string path, string file, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + _options.LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex) when (HeldByOther(ex) && DateTime.UtcNow < deadline)
            {
                cancel.WaitHandle.WaitOne(100);
                cancel.ThrowIfCancellationRequested();
            }
            catch (IOException ex) when (HeldByOther(ex))
            {
                throw new HubDownloadException(
                    $"Waited {_options.LockTimeout} for another process downloading '{file}' of '{RepoId}' (lock '{path}'); giving up.",
                    RepoId, Revision, file, ex);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new HubDownloadException(
                    $"Cannot create the lock file '{path}' for '{file}' of '{RepoId}' ({ex.Message}); is the cache '{Cache.CacheDir}' writable?",
                    RepoId, Revision, file, ex);
            }
        }
    }

    /// <summary>The lock is taken: EWOULDBLOCK from flock on Unix, a sharing or lock violation on Windows.</summary>
    private static bool HeldByOther(IOException ex) => ex.HResult is 11 or unchecked((int)0x80070020) or unchecked((int)0x80070021);

    private void Fetch(string file, Metadata meta, string blob, CancellationToken cancel)
    {
        _downloadClient ??= new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = true, ConnectTimeout = _options.ConnectTimeout });
        string partial = blob + ".incomplete";
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (meta.Size is { } size && have > size) { File.Delete(partial); have = 0; }
        if (meta.Size is { } complete && have == complete && have > 0)
        {
            File.Move(partial, blob, overwrite: true);                       // an earlier run stopped just before the rename
            return;
        }
        using var request = Request(HttpMethod.Get, meta.DownloadUrl!);
        request.Headers.AcceptEncoding.ParseAdd("identity");
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        HttpResponseMessage response;
        try
        {
            response = _downloadClient.Send(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null && !cancel.IsCancellationRequested)
        {
            throw Interrupted(file, have, meta.Size, ex);
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From != have)
                throw new HubDownloadException($"{meta.DownloadUrl} answered a Range request for '{file}' of '{RepoId}' from the wrong offset.", RepoId, Revision, file);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
            {
                File.Delete(partial);                                        // the partial file does not fit: start afresh
                Fetch(file, meta, blob, cancel);
                return;
            }
            if (!response.IsSuccessStatusCode) throw Failure(response, file);
            bool append = response.StatusCode == HttpStatusCode.PartialContent;
            if (!append) have = 0;
            Copy(file, response, partial, append ? FileMode.Append : FileMode.Create, have, meta.Size, cancel);
        }
        long got = new FileInfo(partial).Length;
        if (meta.Size is { } expected && got != expected)
        {
            File.Delete(partial);                                            // wrong bytes: never resume from them
            throw new HubDownloadException(
                $"'{file}' of '{RepoId}' (revision '{Revision}') arrived with {got} bytes but the hub announced {expected}; the partial file was removed, run again.",
                RepoId, Revision, file);
        }
        File.Move(partial, blob, overwrite: true);
    }

    private void Copy(string file, HttpResponseMessage response, string partial, FileMode mode, long have, long? total, CancellationToken cancel)
    {
        using var body = response.Content.ReadAsStream(cancel);
        using var stopOnCancel = cancel.Register(response.Dispose);       // a blocking read wakes up when cancelled
        using var stall = new CancellationTokenSource();
        using var stopOnStall = stall.Token.Register(response.Dispose);   // ... and when no byte came for ReadTimeout
        Stream output;
        try
        {
            // Unbuffered (bufferSize 0): the copy loop already writes 64 KiB blocks, and a full disk then fails in
            // Write, not later in a Dispose that would flush again.
            output = _options.OpenDownloadFile?.Invoke(partial, mode) ?? new FileStream(partial, mode, FileAccess.Write, FileShare.None, bufferSize: 0);
        }
        catch (IOException ex)
        {
            throw WriteFailed(file, partial, null, ex);
        }
        var buffer = new byte[BufferSize];
        long done = have, lastReport = -1;
        while (true)
        {
            int n;
            try
            {
                stall.CancelAfter(_options.ReadTimeout);
                n = body.Read(buffer, 0, buffer.Length);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or ObjectDisposedException)
            {
                CloseQuietly(output);
                cancel.ThrowIfCancellationRequested();
                throw Interrupted(file, done, total, stall.IsCancellationRequested
                    ? new TimeoutException($"no data for {_options.ReadTimeout.TotalSeconds:0.#} s", ex) : ex);
            }
            if (n == 0) break;
            try
            {
                output.Write(buffer, 0, n);
            }
            catch (IOException ex)
            {
                throw WriteFailed(file, partial, output, ex);
            }
            done += n;
            if (done - lastReport >= 1 << 20 || lastReport < 0)
            {
                _options.Progress?.Report(new HubFileProgress(file, HubFileState.Downloading, done, total));
                lastReport = done;
            }
        }
        try
        {
            output.Flush();
            output.Dispose();
        }
        catch (IOException ex)
        {
            throw WriteFailed(file, partial, output, ex);
        }
    }

    private static void CloseQuietly(Stream? stream)
    {
        try
        {
            stream?.Dispose();
        }
        catch (IOException)
        {
            // the write error that brought us here is the one reported
        }
    }

    private HubDownloadException Interrupted(string file, long done, long? total, Exception cause) => new(
        $"The download of '{file}' of '{RepoId}' (revision '{Revision}') was interrupted after {done}{(total is { } t ? $" of {t}" : "")} bytes ({cause.Message}); run again to resume it.",
        RepoId, Revision, file, cause);

    private HubDownloadException WriteFailed(string file, string partial, Stream? output, IOException cause)
    {
        CloseQuietly(output);
        try
        {
            File.Delete(partial);                                            // free the space; nothing half-written stays
        }
        catch (IOException)
        {
        }
        return new HubDownloadException(
            $"Could not write '{file}' of '{RepoId}' to the cache '{Cache.CacheDir}' ({cause.Message}); is the disk full? Set HF_HUB_CACHE to another folder.",
            RepoId, Revision, file, cause);
    }
}
