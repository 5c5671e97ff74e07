using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace DebertaSharp.IO;

/// <summary>
/// Replaces a whole folder at once (a saved model, a training checkpoint): its new content is built in a hidden
/// sibling <c>.&lt;name&gt;.tmp-&lt;guid&gt;</c>, which is then swapped in. On Linux the swap is one
/// <c>renameat2(RENAME_EXCHANGE)</c>, so the name always holds the old or the new complete folder; elsewhere (or on a
/// file system without it) the old folder is renamed aside to <c>.&lt;name&gt;.old-&lt;guid&gt;</c> first, and a
/// process killed between the two renames leaves the name missing for <see cref="Recover"/> to undo. Entries of the
/// old folder the new one does not have (tokenizer files, earlier checkpoints) are moved across after the swap.
/// One implementation for <c>SavePretrained</c>, fine-tuning and pre-training checkpoints.
/// </summary>
internal static partial class AtomicFolder
{
    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;

    [GeneratedRegex(@"^\.(?<name>.+)\.(?<kind>tmp|old)-[0-9a-f]{32}$")]
    private static partial Regex SiblingPattern();

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    /// <summary>A fresh hidden sibling of <paramref name="final"/> to build its new content in.</summary>
    public static string TemporarySibling(string final)
    {
        string full = Normalize(final);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Builds <paramref name="final"/> anew: <paramref name="write"/> fills a temporary sibling, which then replaces
    /// the folder as a whole. With <paramref name="carryOver"/>, entries of the old folder that the new one lacks are kept.
    /// If <paramref name="write"/> throws, the temporary folder is removed and the old folder is untouched.
    /// </summary>
    /// <exception cref="CheckpointException">A rename fails; the message names the folder.</exception>
    public static void Replace(string final, Action<string> write, bool carryOver)
    {
        string full = Normalize(final);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        Recover(full);
        string temp = TemporarySibling(full);
        try
        {
            Directory.CreateDirectory(temp);
            write(temp);
            MoveIntoPlace(temp, full, carryOver);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new CheckpointException($"Cannot write '{full}': {e.Message}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Swaps the finished <paramref name="temp"/> folder in as <paramref name="final"/> (see the class remarks).</summary>
    public static void MoveIntoPlace(string temp, string final, bool carryOver)
    {
        string full = Normalize(final);
        if (!Directory.Exists(full))
        {
            Directory.Move(temp, full);
            return;
        }
        string old;
        if (TryExchange(temp, full))
        {
            old = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old-{Guid.NewGuid():N}");
            Directory.Move(temp, old); // temp now holds the old content
        }
        else
        {
            old = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old-{Guid.NewGuid():N}");
            Directory.Move(full, old);
            try
            {
                Directory.Move(temp, full);
            }
            catch
            {
                Directory.Move(old, full);
                throw;
            }
        }
        if (carryOver) MoveMissingEntries(old, full);
        TryDelete(old);
    }

    /// <summary>Swaps two existing paths in one step (Linux 3.15+, glibc 2.28+); false where that is not available.</summary>
    private static bool TryExchange(string a, string b)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return RenameAt2(AtFdCwd, a, AtFdCwd, b, RenameExchange) == 0; // EINVAL/ENOSYS on file systems without it
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Undoes what a killed swap of <paramref name="final"/> left behind: the old folder is put back if the name is
    /// missing; entries an interrupted carry-over left in a sibling are moved in (never over an entry the folder has);
    /// then stale siblings (<c>.&lt;name&gt;.tmp-*</c>, <c>.&lt;name&gt;.old-*</c>) and temporary files
    /// (<see cref="TemporaryFiles"/>) inside the folder are deleted. Cheap when there is nothing to do (one listing of the parent).
    /// </summary>
    public static void Recover(string final)
    {
        string full = Normalize(final);
        string? parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent)) return;
        string name = Path.GetFileName(full);
        try
        {
            foreach (var sibling in Directory.GetDirectories(parent, $".{name}.*"))
            {
                var match = SiblingPattern().Match(Path.GetFileName(sibling));
                if (!match.Success || match.Groups["name"].Value != name) continue;
                bool old = match.Groups["kind"].Value == "old";
                if (!Directory.Exists(full))
                {
                    // Killed between "old aside" and "new in": the old folder is the complete one. A temporary one is not.
                    if (old) Directory.Move(sibling, full);
                    else TryDelete(sibling);
                    continue;
                }
                // The name holds a complete folder. After an exchange a temporary sibling holds the old content, so
                // either kind may still carry entries the swap had not moved across yet.
                MoveMissingEntries(sibling, full);
                TryDelete(sibling);
            }
            if (Directory.Exists(full))
                foreach (var file in Directory.GetFiles(full, ".*.tmp"))
                    if (TemporaryFiles.IsTemporary(Path.GetFileName(file))) File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: leftovers are hidden and harmless; the next save tries again.
        }
    }

    /// <summary>
    /// Removes every stale hidden sibling folder in <paramref name="parent"/> (killed saves of any folder there, such as
    /// <c>.checkpoint-12.tmp-&lt;guid&gt;</c>), putting back an old folder whose name is missing.
    /// </summary>
    public static void RecoverAll(string parent)
    {
        if (!Directory.Exists(parent)) return;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var sibling in Directory.GetDirectories(parent, ".*"))
        {
            var match = SiblingPattern().Match(Path.GetFileName(sibling));
            if (match.Success) names.Add(match.Groups["name"].Value);
        }
        foreach (var name in names) Recover(Path.Combine(parent, name));
    }

    /// <summary>Deletes a folder, ignoring failure (a leftover hidden folder is harmless).</summary>
    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original error matters more than a leftover hidden folder.
        }
    }

    private static void MoveMissingEntries(string from, string to)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(from))
        {
            string target = Path.Combine(to, Path.GetFileName(entry));
            if (File.Exists(target) || Directory.Exists(target)) continue;
            if (Directory.Exists(entry)) Directory.Move(entry, target);
            else File.Move(entry, target);
        }
    }

    // A folder given through a symbolic link is replaced where the link points, so the link keeps working.
    private static string Normalize(string folder)
    {
        string full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        return Directory.Exists(full) && Directory.ResolveLinkTarget(full, returnFinalTarget: true) is { } target
            ? Path.GetFullPath(target.FullName).TrimEnd(Path.DirectorySeparatorChar)
            : full;
    }
}
