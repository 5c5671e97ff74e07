using System.Globalization;
using DebertaSharp.Training;

namespace DebertaSharp.Pretraining;

/// <summary>Folder-level operations on the <c>checkpoint-&lt;step&gt;</c> folders of a run's output.</summary>
internal static class CheckpointFolders
{
    /// <summary>A hidden sibling of <paramref name="final"/> to build a checkpoint in before <see cref="MoveIntoPlace"/>.</summary>
    public static string TemporarySibling(string final)
    {
        string full = Path.GetFullPath(final).TrimEnd(Path.DirectorySeparatorChar);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Renames the finished <paramref name="temp"/> folder to <paramref name="final"/>. An existing folder is moved aside
    /// first and deleted after, so the final name holds the old or the new complete checkpoint, never a mix.
    /// </summary>
    public static void MoveIntoPlace(string temp, string final)
    {
        if (!Directory.Exists(final))
        {
            Directory.Move(temp, final);
            return;
        }
        string aside = TemporarySibling(final) + ".old";
        Directory.Move(final, aside);
        try
        {
            Directory.Move(temp, final);
        }
        catch
        {
            Directory.Move(aside, final);
            throw;
        }
        TryDelete(aside);
    }

    /// <summary>The checkpoint folders under <paramref name="output"/> with a <c>trainer_state.json</c>, by step.</summary>
    public static List<(string Path, long Step)> List(string output)
    {
        if (!Directory.Exists(output)) return [];
        return Directory.GetDirectories(output, TrainingCheckpoint.FolderPrefix + "*")
            .Select(d => (Path: d, Step: long.TryParse(System.IO.Path.GetFileName(d)[TrainingCheckpoint.FolderPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : -1))
            .Where(c => c.Step >= 0 && File.Exists(System.IO.Path.Combine(c.Path, TrainingState.FileName)))
            .OrderBy(c => c.Step)
            .ToList();
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints, never <paramref name="protect"/>.</summary>
    public static void Prune(string output, int keep, string protect)
    {
        var all = List(output);
        string protectedFull = System.IO.Path.GetFullPath(protect);
        foreach (var (path, _) in all.Take(Math.Max(0, all.Count - keep)))
            if (!string.Equals(System.IO.Path.GetFullPath(path), protectedFull, StringComparison.Ordinal)) TryDelete(path);
    }

    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover folder is harmless; the run must not fail for it.
        }
    }
}
