using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace DebertaSharp.Tests.Hub;

/// <summary>
/// A loopback stand-in for huggingface.co, written from the hub's documented behaviour: <c>HEAD/GET
/// /{repo}/resolve/{revision}/{file}</c> answers small files directly (git-blob <c>ETag</c>) and large ("LFS") files
/// with a 302 to <c>/cdn/{sha256}</c> carrying <c>X-Linked-Etag</c> / <c>X-Linked-Size</c>; every resolve answer
/// carries <c>X-Repo-Commit</c>. The CDN serves Range requests (206). Errors carry <c>X-Error-Code</c>
/// (RepoNotFound 401, GatedRepo 401/403, RevisionNotFound 404, EntryNotFound 404). It can drop a connection
/// half-way, send fewer bytes than announced, and answer slowly. Every request is recorded.
/// One request per connection (<c>Connection: close</c>), so a drop is a real reset seen by the client.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, FakeRepo> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);

    public FakeHub()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _ = Task.Run(AcceptLoop);
    }

    /// <summary><c>http://127.0.0.1:{port}</c>: the value of HF_ENDPOINT.</summary>
    public string Endpoint { get; }

    /// <summary>The "CDN" address: the same server under another host name, as the hub's CDN is another host.</summary>
    public string CdnEndpoint => Endpoint.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);

    /// <summary>Every request: method, path, Range header (null if none), Authorization header.</summary>
    public ConcurrentQueue<(string Method, string Path, string? Range, string? Authorization)> Requests { get; } = new();

    /// <summary>The CDN path of a blob whose next response is cut after this many bytes (then the rule is removed).</summary>
    public ConcurrentDictionary<string, long> DropOnce { get; } = new();

    /// <summary>CDN paths answered with this many bytes fewer than the file has (a consistent, shorter response: only the
    /// size the resolve answer announced in <c>X-Linked-Size</c> can reveal it).</summary>
    public ConcurrentDictionary<string, int> Short { get; } = new();

    /// <summary>Old repo id → new one: resolve requests for the old id get a relative 307, as the hub answers for a renamed repo.</summary>
    public ConcurrentDictionary<string, string> Renamed { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, every resolve request is answered with this status (a hub that is down: 503).</summary>
    public int? FailWith { get; set; }

    /// <summary>Delay before every answer.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Delay before each body chunk of CDN answers (16 KiB chunks).</summary>
    public TimeSpan ChunkDelay { get; set; }

    /// <summary>The bearer token a gated repository accepts.</summary>
    public const string GoodToken = "hf_good";

    /// <summary>Adds a repository whose first commit holds <paramref name="files"/>, on <paramref name="branch"/>.</summary>
    public FakeRepo Add(string repoId, IReadOnlyDictionary<string, byte[]> files, string branch = "main", bool gated = false)
    {
        var repo = new FakeRepo(repoId, gated);
        lock (_repos) _repos[repoId] = repo;
        AddCommit(repo, files, branch);
        return repo;
    }

    /// <summary>Adds a commit to <paramref name="repo"/> and points <paramref name="revision"/> (branch or tag) at it.</summary>
    public string AddCommit(FakeRepo repo, IReadOnlyDictionary<string, byte[]> files, string revision)
    {
        foreach (var data in files.Values) _blobs[Sha256(data)] = data;
        return repo.AddCommit(files, revision);
    }

    /// <summary>The CDN path of a file's content.</summary>
    public static string CdnPath(byte[] data) => "/cdn/" + Sha256(data);

    /// <summary>The files of a folder, by name.</summary>
    public static Dictionary<string, byte[]> FolderFiles(string folder) =>
        Directory.EnumerateFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    /// <summary>Whether the hub stores <paramref name="file"/> in LFS (big binary files), as HF repositories do.</summary>
    public static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) ||
        file.EndsWith(".bin", StringComparison.Ordinal) || file.EndsWith(".model", StringComparison.Ordinal);

    /// <summary>git's blob id: sha1 of "blob {size}\0" + content (the ETag of a non-LFS file).</summary>
    public static string GitBlobId(byte[] data) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {data.Length}\0"), .. data]));

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>The etag (blob name in the cache) of a file.</summary>
    public static string Etag(string file, byte[] data) => IsLfs(file) ? Sha256(data) : GitBlobId(data);

    public int Count(string method, string? pathContains = null) =>
        Requests.Count(r => r.Method == method && (pathContains is null || r.Path.Contains(pathContains, StringComparison.Ordinal)));

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var (method, path, headers) = await ReadRequest(stream);
                headers.TryGetValue("range", out string? range);
                headers.TryGetValue("authorization", out string? auth);
                Requests.Enqueue((method, path, range, auth));
                if (Delay > TimeSpan.Zero) await Task.Delay(Delay, _stop.Token);
                await Answer(client, stream, method, Uri.UnescapeDataString(path.Split('?')[0]), range, auth);
            }
            catch (Exception)
            {
                // a client that went away (cancellation test) or a deliberate drop
            }
        }
    }

    private static async Task<(string Method, string Path, Dictionary<string, string> Headers)> ReadRequest(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (!(bytes.Count >= 4 && bytes[^1] == '\n' && bytes[^2] == '\r' && bytes[^3] == '\n' && bytes[^4] == '\r'))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("closed");
            bytes.Add(one[0]);
        }
        var lines = Encoding.ASCII.GetString(bytes.ToArray()).Split("\r\n");
        var parts = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1).Where(l => l.Contains(':')))
            headers[line[..line.IndexOf(':')].Trim()] = line[(line.IndexOf(':') + 1)..].Trim();
        return (parts[0], parts[1], headers);
    }

    private async Task Answer(TcpClient client, NetworkStream stream, string method, string path, string? range, string? auth)
    {
        var segments = path.Trim('/').Split('/');
        if (segments is ["cdn", var sha] && _blobs.TryGetValue(sha, out var blob))
        {
            await Cdn(client, stream, path, blob, range);
            return;
        }
        if (segments.Length >= 5 && segments[0] == "api" && segments[1] == "models" && segments[4] == "revision")
        {
            var apiRepo = Find(segments[2] + "/" + segments[3]);
            string apiRevision = string.Join('/', segments.Skip(5));
            if (Refuse(apiRepo, auth, apiRevision) is { } refusal) { await Write(stream, refusal.Status, refusal.Headers, null, method); return; }
            string commit = apiRepo!.CommitOf(apiRevision)!;
            var body = JsonSerializer.SerializeToUtf8Bytes(new { id = apiRepo.Id, sha = commit, siblings = apiRepo.Commits[commit].Keys.Order().Select(f => new { rfilename = f }) });
            await Write(stream, 200, new() { ["Content-Type"] = "application/json" }, body, method);
            return;
        }
        if (FailWith is { } failure)
        {
            await Write(stream, failure, [], null, method);
            return;
        }
        int resolve = Array.IndexOf(segments, "resolve");
        if (resolve is not 2 || segments.Length < 5)
        {
            await Write(stream, 404, new() { ["X-Error-Code"] = "RepoNotFound" }, null, method);
            return;
        }
        if (Renamed.TryGetValue(segments[0] + "/" + segments[1], out string? renamed))
        {
            await Write(stream, 307, new() { ["Location"] = "/" + renamed + "/" + string.Join('/', segments.Skip(2)) }, null, method);
            return;
        }
        var repo = Find(segments[0] + "/" + segments[1]);
        string revision = segments[3];
        string file = string.Join('/', segments.Skip(4));
        if (Refuse(repo, auth, revision) is { } refused) { await Write(stream, refused.Status, refused.Headers, null, method); return; }
        string at = repo!.CommitOf(revision)!;
        if (!repo.Commits[at].TryGetValue(file, out var data))
        {
            await Write(stream, 404, new() { ["X-Error-Code"] = "EntryNotFound", ["X-Error-Message"] = "Entry not found", ["X-Repo-Commit"] = at }, null, method);
            return;
        }
        if (IsLfs(file))
        {
            string lfs = Sha256(data);
            await Write(stream, 302, new()
            {
                ["Location"] = $"{CdnEndpoint}/cdn/{lfs}",
                ["X-Repo-Commit"] = at,
                ["X-Linked-Etag"] = $"\"{lfs}\"",
                ["X-Linked-Size"] = data.Length.ToString(),
                ["ETag"] = $"\"{GitBlobId(Encoding.ASCII.GetBytes("lfs pointer " + lfs))}\"",
            }, null, method);
            return;
        }
        await Write(stream, 200, new() { ["X-Repo-Commit"] = at, ["ETag"] = $"\"{GitBlobId(data)}\"" }, data, method);
    }

    private FakeRepo? Find(string id)
    {
        lock (_repos) return _repos.GetValueOrDefault(id);
    }

    private static (int Status, Dictionary<string, string> Headers)? Refuse(FakeRepo? repo, string? auth, string revision)
    {
        // The hub answers 401 RepoNotFound for a repository it does not show (missing or private).
        if (repo is null) return (401, new() { ["X-Error-Code"] = "RepoNotFound", ["X-Error-Message"] = "Repository not found" });
        if (repo.Gated && auth != "Bearer " + GoodToken)
            return (auth is null ? 401 : 403, new() { ["X-Error-Code"] = "GatedRepo", ["X-Error-Message"] = "Access to this model is restricted." });
        if (repo.CommitOf(revision) is null)
            return (404, new() { ["X-Error-Code"] = "RevisionNotFound", ["X-Error-Message"] = "Invalid rev id: " + revision });
        return null;
    }

    private async Task Cdn(TcpClient client, NetworkStream stream, string path, byte[] blob, string? range)
    {
        long from = 0;
        if (range is { } r && r.StartsWith("bytes=", StringComparison.Ordinal) && r.EndsWith('-'))
            from = long.Parse(r["bytes=".Length..^1]);
        var headers = new Dictionary<string, string>();
        int status = 200;
        if (from >= blob.Length && from > 0)
        {
            await Write(stream, 416, new() { ["Content-Range"] = $"bytes */{blob.Length}" }, null, "GET");
            return;
        }
        if (from > 0)
        {
            status = 206;
            headers["Content-Range"] = $"bytes {from}-{blob.Length - 1}/{blob.Length}";
        }
        byte[] body = blob[(int)from..];
        long cut = DropOnce.TryRemove(path, out long c) ? c : -1;
        int missing = Short.TryGetValue(path, out int m) ? m : 0;
        await WriteHead(stream, status, headers, body.Length - missing);
        int sent = 0, limit = body.Length - missing;
        while (sent < limit)
        {
            if (ChunkDelay > TimeSpan.Zero) await Task.Delay(ChunkDelay, _stop.Token);
            int n = Math.Min(16 << 10, limit - sent);
            if (cut >= 0 && sent + n > cut) n = (int)(cut - sent);
            await stream.WriteAsync(body.AsMemory(sent, n));
            sent += n;
            if (cut >= 0 && sent >= cut)
            {
                await stream.FlushAsync();
                client.Client.Shutdown(SocketShutdown.Both);                    // the connection ends mid-file: every byte
                client.Client.Close();                                          // sent arrives, then a premature end
                return;
            }
        }
    }

    private static async Task WriteHead(NetworkStream stream, int status, Dictionary<string, string> headers, long length)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n");
        foreach (var (k, v) in headers) sb.Append(k).Append(": ").Append(v).Append("\r\n");
        sb.Append("Content-Length: ").Append(length).Append("\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
    }

    private static async Task Write(NetworkStream stream, int status, Dictionary<string, string> headers, byte[]? body, string method)
    {
        await WriteHead(stream, status, headers, body?.Length ?? 0);
        if (body is not null && method != "HEAD") await stream.WriteAsync(body);
        await stream.FlushAsync();
    }
}

/// <summary>A repository of <see cref="FakeHub"/>: commits (file sets) and the branches/tags naming them.</summary>
internal sealed class FakeRepo(string id, bool gated)
{
    public string Id { get; } = id;

    public bool Gated { get; } = gated;

    public Dictionary<string, Dictionary<string, byte[]>> Commits { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a commit (hash made from its content) and points <paramref name="revision"/> at it.</summary>
    public string AddCommit(IReadOnlyDictionary<string, byte[]> files, string revision)
    {
        var all = files.OrderBy(f => f.Key, StringComparer.Ordinal).SelectMany(f => Encoding.UTF8.GetBytes(f.Key).Concat(f.Value)).ToArray();
        string commit = Convert.ToHexStringLower(SHA1.HashData([.. Encoding.UTF8.GetBytes(Id + Commits.Count), .. all]));
        Commits[commit] = new Dictionary<string, byte[]>(files, StringComparer.Ordinal);
        Refs[revision] = commit;
        return commit;
    }

    public string? CommitOf(string revision) => Refs.TryGetValue(revision, out var c) ? c : Commits.ContainsKey(revision) ? revision : null;
}
