using System.Diagnostics;
using DebertaSharp.Checkpoints;
using DebertaSharp.IO;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using DebertaSharp.Training;
using TorchSharp;
using Xunit;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// SavePretrained replaces the folder as a whole: killing a process that keeps saving 2- and 3-label models into one
/// folder (before: 16 of 40 folders unloadable, same-shaped models mixed, 33 of 40 with leftover .tmp files) leaves a
/// loadable folder whose config and weights come from one save, and the next save leaves nothing behind.
/// </summary>
[Collection(SerialTorchRng.Name)]
public class AtomicSaveTests
{
    private static int GenerationOf(DebertaForSequenceClassification model)
    {
        int fromLabels = int.Parse(model.Config.Id2Label[0][1..].Split('_')[0], System.Globalization.CultureInfo.InvariantCulture);
        var bias = model.named_parameters().Single(p => p.name == "classifier.bias").parameter;
        Assert.True(bias.eq(fromLabels).all().item<bool>(), $"config of generation {fromLabels} with weights of another save");
        Assert.Equal(2 + fromLabels % 2, model.Config.NumLabels);
        return fromLabels;
    }

    private static string[] Leftovers(string folder) =>
        Directory.GetFileSystemEntries(Path.GetDirectoryName(folder)!, "." + Path.GetFileName(folder) + ".*")
            .Concat(Directory.GetFiles(folder, ".*")).ToArray();

    [Fact]
    public async Task KilledSaveLoopLeavesALoadableConsistentFolder()
    {
        using var tmp = new TempDir();
        string folder = Path.Combine(tmp.Path, "model");
        var random = new Random(13);
        var seen = new HashSet<int>();
        for (int round = 0; round < 6; round++)
        {
            var start = Program.ChildProcess("save-loop", folder);
            using var child = Process.Start(start)!;
            try
            {
                var errors = child.StandardError.ReadToEndAsync();
                int saves = 0, wanted = 1 + random.Next(4);
                while (saves < wanted)
                {
                    string? line;
                    try { line = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)); }
                    catch (TimeoutException) { break; }
                    if (line is null) break;
                    if (line.StartsWith("saved", StringComparison.Ordinal)) saves++;
                }
                Assert.True(saves == wanted, $"the child ({start.FileName} {string.Join(" ", start.ArgumentList)}) made {saves} saves: {(errors.IsCompleted ? await errors : "(still running)")}");
                await Task.Delay(random.Next(40)); // land anywhere inside the next save
            }
            finally
            {
                child.Kill(entireProcessTree: true);
                await child.WaitForExitAsync();
            }
            using var loaded = DebertaForSequenceClassification.FromPretrained(folder);
            seen.Add(GenerationOf(loaded));
        }
        Assert.True(seen.Count >= 2, "every kill found the same save");

        // The next save cleans whatever the kills left: no hidden siblings, no temporary files.
        torch.set_num_threads(1);
        using (var model = Program.Generation(5)) model.SavePretrained(folder);
        Assert.Empty(Leftovers(folder));
        using var last = DebertaForSequenceClassification.FromPretrained(folder);
        Assert.Equal(5, GenerationOf(last));
    }

    [Fact]
    public void SavingOverAFolderKeepsItsOtherFilesAndReplacesTheModel()
    {
        using var tmp = new TempDir();
        string folder = Path.Combine(tmp.Path, "model");
        using (var two = Program.Generation(0)) two.SavePretrained(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{}");
        Directory.CreateDirectory(Path.Combine(folder, "checkpoint-3"));
        // Leftovers of a killed save: a temporary sibling, a temporary file inside.
        Directory.CreateDirectory(Path.Combine(tmp.Path, $".model.tmp-{Guid.NewGuid():N}"));
        File.WriteAllText(Path.Combine(folder, $".config.json.{Guid.NewGuid():N}.tmp"), "x");
        using (var three = Program.Generation(1)) three.SavePretrained(folder);
        Assert.True(File.Exists(Path.Combine(folder, "tokenizer_config.json")));
        Assert.True(Directory.Exists(Path.Combine(folder, "checkpoint-3")));
        Assert.Empty(Leftovers(folder));
        using var loaded = DebertaForSequenceClassification.FromPretrained(folder);
        Assert.Equal(1, GenerationOf(loaded));
    }

    [Fact]
    public void SavingThroughASymbolicLinkReplacesItsTarget()
    {
        using var tmp = new TempDir();
        string real = Path.Combine(tmp.Path, "real");
        string link = Path.Combine(tmp.Path, "link");
        using (var model = Program.Generation(0)) model.SavePretrained(real);
        Directory.CreateSymbolicLink(link, real);
        using (var model = Program.Generation(1)) model.SavePretrained(link);
        Assert.NotNull(new DirectoryInfo(link).LinkTarget);
        using var loaded = DebertaForSequenceClassification.FromPretrained(real);
        Assert.Equal(1, GenerationOf(loaded));
    }

    [Fact]
    public void AnOldFolderLeftAsideByAKillIsPutBack()
    {
        using var tmp = new TempDir();
        string folder = Path.Combine(tmp.Path, "model");
        using (var model = Program.Generation(0)) model.SavePretrained(folder);
        // Killed between "old aside" and "new in" (the fallback where RENAME_EXCHANGE is missing).
        Directory.Move(folder, Path.Combine(tmp.Path, $".model.old-{Guid.NewGuid():N}"));
        AtomicFolder.Recover(folder);
        using var loaded = DebertaForSequenceClassification.FromPretrained(folder);
        Assert.Equal(0, GenerationOf(loaded));
    }

    [Fact]
    public void StaleCheckpointTempFoldersOfKilledRunsAreRemovedByLaterRuns()
    {
        using var tmp = new TempDir();
        // What a finetune run killed inside a checkpoint save leaves: ".checkpoint-N.tmp-<guid>/" with part of a checkpoint.
        string stale = Path.Combine(tmp.Path, $".checkpoint-4.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(stale);
        File.WriteAllText(Path.Combine(stale, "model.safetensors"), "partial");
        Assert.Null(TrainingCheckpoint.Latest(tmp.Path));
        Assert.False(Directory.Exists(stale));

        Directory.CreateDirectory(stale);
        using var model = Program.Generation(0);
        using var optimizer = new AdamW(model.named_parameters(), new AdamWOptions { LearningRate = 1e-3 });
        var state = new TrainingState
        {
            GlobalStep = 6, Epoch = 0, StepInEpoch = 6, Seed = 1, LearningRate = 1e-3,
            Schedule = new LearningRateSchedule(ScheduleKind.Linear, 0, 10), MetricForBest = "eval_loss",
        };
        TrainingCheckpoint.Save(Path.Combine(tmp.Path, "checkpoint-6"), model, optimizer, state);
        Assert.False(Directory.Exists(stale));
        Assert.Equal(Path.Combine(tmp.Path, "checkpoint-6"), TrainingCheckpoint.Latest(tmp.Path));
        Assert.Empty(Directory.GetDirectories(tmp.Path, ".*"));
    }
}
