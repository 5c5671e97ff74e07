namespace DebertaSharp.Hub;

/// <summary>
/// Base of every Hugging Face Hub error: the message names the repository, the revision and, where there is one,
/// the file.
/// </summary>
public class HubException : DebertaSharpException
{
    /// <summary>Creates the exception.</summary>
    public HubException(string message, string repoId, string? revision = null, string? file = null, Exception? inner = null)
        : base(message, inner!)
    {
        RepoId = repoId;
        Revision = revision;
        File = file;
    }

    /// <summary>The repository id, e.g. <c>microsoft/deberta-v3-base</c>.</summary>
    public string RepoId { get; }

    /// <summary>The branch, tag or commit asked for.</summary>
    public string? Revision { get; }

    /// <summary>The file inside the repository, when the error concerns one.</summary>
    public string? File { get; }
}

/// <summary>The hub answered 401 or 403: the repository is gated or private, or the token is not accepted.</summary>
public sealed class HubAuthenticationException : HubException
{
    /// <summary>Creates the exception.</summary>
    public HubAuthenticationException(string message, string repoId, string? revision, string? file)
        : base(message, repoId, revision, file) { }
}

/// <summary>The repository does not exist (or is private and no token was given).</summary>
public sealed class RepositoryNotFoundException : HubException
{
    /// <summary>Creates the exception.</summary>
    public RepositoryNotFoundException(string message, string repoId, string? revision)
        : base(message, repoId, revision) { }
}

/// <summary>The branch, tag or commit does not exist in the repository.</summary>
public sealed class RevisionNotFoundException : HubException
{
    /// <summary>Creates the exception.</summary>
    public RevisionNotFoundException(string message, string repoId, string? revision)
        : base(message, repoId, revision) { }
}

/// <summary>A file the checkpoint needs is not in the repository at that revision.</summary>
public sealed class EntryNotFoundException : HubException
{
    /// <summary>Creates the exception.</summary>
    public EntryNotFoundException(string message, string repoId, string? revision, string? file)
        : base(message, repoId, revision, file) { }
}

/// <summary>
/// The file is not in the local cache and the hub cannot be asked: offline mode (<c>HF_HUB_OFFLINE=1</c>) or no
/// network (<see cref="Offline"/> tells which).
/// </summary>
public sealed class HubNotCachedException : HubException
{
    /// <summary>Creates the exception.</summary>
    public HubNotCachedException(string message, string repoId, string? revision, string? file, bool offline, Exception? inner = null)
        : base(message, repoId, revision, file, inner)
    {
        Offline = offline;
    }

    /// <summary>True in offline mode; false when the hub could not be reached.</summary>
    public bool Offline { get; }
}

/// <summary>
/// A download did not complete: the connection dropped (run again to resume), the file arrived shorter or longer
/// than the hub announced, or it could not be written (disk full). Nothing half-written is left where a later load
/// would read it.
/// </summary>
public sealed class HubDownloadException : HubException
{
    /// <summary>Creates the exception.</summary>
    public HubDownloadException(string message, string repoId, string? revision, string? file, Exception? inner = null)
        : base(message, repoId, revision, file, inner) { }
}
