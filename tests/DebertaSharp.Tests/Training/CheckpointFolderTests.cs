using System.Diagnostics;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Training;
using Xunit;

namespace DebertaSharp.Tests.Training;

/// <summary>
/// The one set of checkpoint-folder rules fine-tuning and pre-training share: which folders are checkpoints, which the
/// pruning keeps, and that a checkpoint it cannot delete is an error naming it (pre-training used to ignore it; the
/// fine-tuning Trainer let a permission error escape as a bare UnauthorizedAccessException).
/// </summary>
public class CheckpointFolderTests
{
    private static string Checkpoint(string output, long step, bool withState = true)
    {
        string folder = Path.Combine(output, TrainingCheckpoint.FolderName(step));
        Directory.CreateDirectory(folder);
        if (withState) File.WriteAllText(Path.Combine(folder, TrainingState.FileName), "{}");
        return folder;
    }

    [Fact]
    public void PruningKeepsTheNewestAndTheProtectedAndLeavesFoldersThatAreNoCheckpoints()
    {
        using var dir = new TempDir();
        string best = Checkpoint(dir.Path, 1);
        Checkpoint(dir.Path, 2);
        string stray = Checkpoint(dir.Path, 3, withState: false);      // not a checkpoint: no trainer_state.json
        Checkpoint(dir.Path, 4);
        string newest = Checkpoint(dir.Path, 5);

        Assert.Equal([1L, 2, 4, 5], TrainingCheckpoint.List(dir.Path).Select(c => c.Step));
        TrainingCheckpoint.Prune(dir.Path, 1, newest, best);
        Assert.Equal([1L, 5], TrainingCheckpoint.List(dir.Path).Select(c => c.Step));
        Assert.True(Directory.Exists(stray));
        Assert.Equal(newest, TrainingCheckpoint.Latest(dir.Path));
    }

    [Fact]
    public void AnOldCheckpointThatCannotBeDeletedIsAnErrorNamingIt()
    {
        using var dir = new TempDir();
        string old = Checkpoint(dir.Path, 1);
        string newest = Checkpoint(dir.Path, 2);
        string locked = Path.Combine(old, "model.safetensors");
        File.WriteAllText(locked, "x");
        if (OperatingSystem.IsWindows()) return;          // the lock below is Unix-only; Windows runs nothing of this test
        using (Undeletable(locked))
        {
            var error = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Prune(dir.Path, 1, newest));
            Assert.Contains("checkpoint-1", error.Message);
            Assert.Contains("old checkpoint", error.Message);
        }
    }

    /// <summary>Makes a file impossible to delete: immutable as root (chattr), else its folder read-only.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static IDisposable Undeletable(string file)
    {
        if (Environment.UserName == "root")
        {
            Chattr("+i", file);
            return new Undo(() => Chattr("-i", file));
        }

        string folder = Path.GetDirectoryName(file)!;
        UnixFileMode mode = File.GetUnixFileMode(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        return new Undo(() => File.SetUnixFileMode(folder, mode));
    }

    private static void Chattr(string flag, string file)
    {
        using var chattr = Process.Start(new ProcessStartInfo("chattr", [flag, file]) { RedirectStandardError = true })!;
        chattr.WaitForExit();
        Assert.True(chattr.ExitCode == 0, $"chattr {flag} {file}: {chattr.StandardError.ReadToEnd()}");
    }

    private sealed class Undo(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
