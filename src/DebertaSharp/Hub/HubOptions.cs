namespace DebertaSharp.Hub;

/// <summary>
/// Where and how checkpoints are fetched from the Hugging Face Hub. Every property left <c>null</c> falls back to the
/// environment variable <c>huggingface_hub</c> reads (<see cref="Environment"/>, else the process environment):
/// <c>HF_ENDPOINT</c>, <c>HF_HUB_CACHE</c> / <c>HF_HOME</c>, <c>HF_TOKEN</c> (or the file <c>$HF_HOME/token</c>),
/// <c>HF_HUB_OFFLINE</c>.
/// </summary>
public sealed record HubOptions
{
    private static readonly AsyncLocal<HubOptions?> s_current = new();

    /// <summary>Branch, tag or commit hash (default <c>main</c>).</summary>
    public string? Revision { get; init; }

    /// <summary>Folder inside the repository that holds the checkpoint (default: the repository root).</summary>
    public string? Subfolder { get; init; }

    /// <summary>Hub address (default <c>HF_ENDPOINT</c>, else <c>https://huggingface.co</c>).</summary>
    public string? Endpoint { get; init; }

    /// <summary>Cache folder (default <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>).</summary>
    public string? CacheDir { get; init; }

    /// <summary>Bearer token for gated or private repositories (default <c>HF_TOKEN</c>, else the file <c>$HF_HOME/token</c>).</summary>
    public string? Token { get; init; }

    /// <summary>Use only the cache, never the network (default <c>HF_HUB_OFFLINE</c> is 1/ON/YES/TRUE).</summary>
    public bool? Offline { get; init; }

    /// <summary>
    /// The environment variables to read instead of the process environment (tests, or a host that configures
    /// several hubs). <c>null</c> reads the process environment.
    /// </summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>How long to wait for another process that is downloading the same file (default 10 minutes).</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a connection may take to open before the hub counts as unreachable (default 10 s).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a download may go without receiving a byte before it counts as interrupted (default 60 s); the next
    /// run resumes it.
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Told about each file as it is checked and downloaded (for progress bars).</summary>
    public IProgress<HubFileProgress>? Progress { get; init; }

    /// <summary>Opens the <c>.incomplete</c> file a download writes to (tests simulate a full disk with it).</summary>
    internal Func<string, FileMode, Stream>? OpenDownloadFile { get; init; }

    /// <summary>
    /// The options that <c>FromPretrained("org/name")</c> uses on this async flow: those passed to <see cref="Use"/>,
    /// else defaults read from the process environment.
    /// </summary>
    public static HubOptions Current => s_current.Value ?? new HubOptions();

    /// <summary>
    /// Makes <paramref name="options"/> the <see cref="Current"/> options of this async flow until the result is
    /// disposed, so that <c>FromPretrained("org/name")</c> (models, tokenizers, pipelines) uses that revision, cache or
    /// endpoint without a new parameter on each method.
    /// </summary>
    public static IDisposable Use(HubOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return AsyncLocalScope.Set(s_current, options);
    }

    internal string? Variable(string name) =>
        Environment is { } env ? (env.TryGetValue(name, out var v) ? v : null) : System.Environment.GetEnvironmentVariable(name);

    private string? NonEmpty(string name) => Variable(name) is { Length: > 0 } v ? v : null;

    /// <summary>The revision asked for (<c>main</c> by default).</summary>
    public string EffectiveRevision => Revision is { Length: > 0 } r ? r : "main";

    /// <summary>The hub address without a trailing slash.</summary>
    public string EffectiveEndpoint => (Endpoint ?? NonEmpty("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/');

    /// <summary><c>HF_HOME</c>, else <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>.</summary>
    internal string HfHome => NonEmpty("HF_HOME") ?? Path.Combine(
        NonEmpty("XDG_CACHE_HOME") ?? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache"),
        "huggingface");

    /// <summary>The hub cache folder, as <c>huggingface_hub.constants.HF_HUB_CACHE</c>.</summary>
    public string EffectiveCacheDir => CacheDir ?? NonEmpty("HF_HUB_CACHE") ?? NonEmpty("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(HfHome, "hub");

    /// <summary>The token: <see cref="Token"/>, <c>HF_TOKEN</c>, <c>HUGGING_FACE_HUB_TOKEN</c>, else the token file; null if none.</summary>
    internal string? EffectiveToken
    {
        get
        {
            if (Token is { Length: > 0 } t) return t;
            if ((NonEmpty("HF_TOKEN") ?? NonEmpty("HUGGING_FACE_HUB_TOKEN")) is { } env) return env.Trim();
            string file = NonEmpty("HF_TOKEN_PATH") ?? Path.Combine(HfHome, "token");
            try
            {
                return File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } fromFile ? fromFile : null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    /// <summary>Offline when <see cref="Offline"/> says so, else when <c>HF_HUB_OFFLINE</c> is 1/ON/YES/TRUE.</summary>
    public bool EffectiveOffline => Offline ?? Variable("HF_HUB_OFFLINE")?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}

/// <summary>What happened to one file of a checkpoint: checked, found in the cache, downloading, done, or absent.</summary>
/// <param name="File">Path inside the repository.</param>
/// <param name="State">The step reached.</param>
/// <param name="Bytes">Bytes on disk so far.</param>
/// <param name="TotalBytes">The size the hub announced, when known.</param>
public sealed record HubFileProgress(string File, HubFileState State, long Bytes, long? TotalBytes);

/// <summary>The steps of <see cref="HubFileProgress"/>.</summary>
public enum HubFileState
{
    /// <summary>Read from the cache; no download.</summary>
    Cached,
    /// <summary>Bytes are arriving.</summary>
    Downloading,
    /// <summary>Downloaded and linked into the snapshot.</summary>
    Downloaded,
    /// <summary>The repository does not have this optional file.</summary>
    Absent,
}
