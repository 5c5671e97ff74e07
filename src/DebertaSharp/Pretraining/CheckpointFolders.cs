using System.Globalization;
using DebertaSharp.IO;
using DebertaSharp.Training;

namespace DebertaSharp.Pretraining;

/// <summary>Folder-level operations on the <c>checkpoint-&lt;step&gt;</c> folders of a run's output.</summary>
internal static class CheckpointFolders
{
    /// <summary>The checkpoint folders under <paramref name="output"/> with a <c>trainer_state.json</c>, by step.</summary>
    public static List<(string Path, long Step)> List(string output)
    {
        if (!Directory.Exists(output)) return [];
        AtomicFolder.Recover(output);
        AtomicFolder.RecoverAll(output);
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

    public static void TryDelete(string path) => AtomicFolder.TryDelete(path);
}
