using System.Globalization;
using DebertaSharp.Checkpoints;
using DebertaSharp.IO;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// A training checkpoint: a folder in HF layout (<c>config.json</c> + <c>model.safetensors</c>, loadable by
/// <c>FromPretrained</c> here and in Python) plus what resuming needs — <c>optimizer.safetensors</c>
/// (<see cref="AdamW.StateDict"/>), <c>trainer_state.json</c> (<see cref="TrainingState"/>) and
/// <c>rng_state.safetensors</c> (torch's default generator, so dropout continues identically).
/// The folder is written whole or not at all: everything goes to a hidden sibling folder that is then renamed
/// into place, so a crash never leaves a half-written checkpoint under the final name.
/// </summary>
/// <remarks>
/// Only the CPU generator's state is saved: TorchSharp 0.107 does not expose the CUDA generators' state, so a run on a
/// GPU resumes with the right weights, optimizer state and data order but other dropout masks than an uninterrupted run.
/// </remarks>
public static class TrainingCheckpoint
{
    /// <summary>Optimizer state file name.</summary>
    public const string OptimizerFileName = "optimizer.safetensors";

    /// <summary>RNG state file name.</summary>
    public const string RngFileName = "rng_state.safetensors";

    /// <summary>The prefix of checkpoint folders a run writes into its output folder (<c>checkpoint-&lt;step&gt;</c>).</summary>
    public const string FolderPrefix = "checkpoint-";

    private const string CpuRngKey = "cpu";

    /// <summary>
    /// Writes the checkpoint to <paramref name="folder"/>, replacing an existing one there as a whole.
    /// <paramref name="tokenizer"/>, if given, is saved in too, so the folder is self-contained.
    /// </summary>
    /// <exception cref="CheckpointException">A file cannot be written; nothing is left under <paramref name="folder"/>
    /// except the previous checkpoint, if any.</exception>
    /// <remarks>Sets <see cref="TrainingState.OptimizerStepCount"/> of <paramref name="state"/> to the optimizer's step count.</remarks>
    public static void Save(string folder, DebertaPreTrainedModel model, AdamW optimizer, TrainingState state,
        DebertaTokenizerBase? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(state);
        SaveFolder(folder, temp => WriteFiles(temp, model, optimizer, state, tokenizer));
    }

    /// <summary>
    /// Builds the checkpoint folder <paramref name="folder"/> anew, whole or not at all (<see cref="AtomicFolder.Replace"/>):
    /// stale temporary siblings of killed saves in its parent go first, once per save. The one way a run writes a
    /// checkpoint folder (fine-tuning; pre-training's single- and multi-model checkpoints).
    /// </summary>
    /// <exception cref="CheckpointException">The folder cannot be written; the previous checkpoint there, if any, is kept.</exception>
    internal static void SaveFolder(string folder, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        if (Path.GetDirectoryName(full) is not string parent) throw new CheckpointException($"Cannot write checkpoint '{full}': it has no parent folder.");
        AtomicFolder.RecoverAll(parent);
        AtomicFolder.Replace(full, write, carryOver: false);
    }

    /// <summary>Writes the files of a checkpoint into <paramref name="folder"/> (created if missing), not atomically: inside <see cref="SaveFolder"/>.</summary>
    internal static void WriteFiles(string folder, DebertaPreTrainedModel model, AdamW optimizer, TrainingState state, DebertaTokenizerBase? tokenizer)
    {
        Directory.CreateDirectory(folder);
        model.WriteModelFiles(folder);
        SafetensorsWriter.Save(Path.Combine(folder, OptimizerFileName), optimizer.StateDict(), new Dictionary<string, string>
        {
            ["step_count"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
        });
        state.OptimizerStepCount = optimizer.StepCount;
        AtomicFile.WriteAllText(Path.Combine(folder, TrainingState.FileName), state.ToJson());
        using (var rng = get_rng_state())
            SafetensorsWriter.Save(Path.Combine(folder, RngFileName), [new(CpuRngKey, rng)]);
        tokenizer?.SavePretrained(folder);
    }

    /// <summary>
    /// Restores weights, optimizer state and torch's RNG state from a checkpoint written by <see cref="Save"/>
    /// into an already built <paramref name="model"/> and <paramref name="optimizer"/>; returns the run's state.
    /// </summary>
    /// <exception cref="CheckpointException">A file is missing or corrupt, or the weights do not fit the model
    /// (missing or unexpected keys are named).</exception>
    /// <exception cref="TrainingException">The optimizer state does not fit the optimizer.</exception>
    public static TrainingState Load(string folder, DebertaPreTrainedModel model, AdamW optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var state = ReadState(folder);
        foreach (var required in new[] { "config.json", "model.safetensors", OptimizerFileName, RngFileName })
            if (!File.Exists(Path.Combine(folder, required)))
                throw new CheckpointException($"Training checkpoint '{folder}' has no {required}; it cannot be resumed.");

        using (var weights = CheckpointReader.Open(folder))
        {
            var report = model.LoadWeights(weights);
            if (report.Missing.Count > 0 || report.Unexpected.Count > 0)
                throw new CheckpointException(
                    $"Training checkpoint '{folder}' does not hold this model's weights: missing {Describe(report.Missing)}; unexpected {Describe(report.Unexpected)}.");
        }

        using (var file = SafetensorsFile.Open(Path.Combine(folder, OptimizerFileName)))
        {
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (var entry in file.Entries) tensors[entry.Name] = file.Read(entry.Name);
                optimizer.LoadStateDict(tensors, state.OptimizerStepCount);
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }

        using (var file = SafetensorsFile.Open(Path.Combine(folder, RngFileName)))
        {
            if (!file.Contains(CpuRngKey))
                throw new CheckpointException($"'{Path.Combine(folder, RngFileName)}' has no '{CpuRngKey}' generator state.");
            using var rng = file.Read(CpuRngKey);
            set_rng_state(rng);
        }
        return state;
    }

    /// <summary>Reads only <c>trainer_state.json</c> of a checkpoint folder.</summary>
    /// <exception cref="CheckpointException">The folder or file is missing or malformed.</exception>
    public static TrainingState ReadState(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new CheckpointException($"Training checkpoint folder '{folder}' does not exist.");
        string path = Path.Combine(folder, TrainingState.FileName);
        if (!File.Exists(path)) throw new CheckpointException($"'{folder}' is not a training checkpoint: it has no {TrainingState.FileName}.");
        string text;
        try { text = File.ReadAllText(path); }
        catch (IOException e) { throw new CheckpointException($"Cannot read '{path}': {e.Message}", e); }
        return TrainingState.Parse(text, path);
    }

    /// <summary>
    /// The <c>checkpoint-&lt;step&gt;</c> folder with the highest step under <paramref name="outputFolder"/> that holds a
    /// <c>trainer_state.json</c>, or <c>null</c> when there is none.
    /// </summary>
    public static string? Latest(string outputFolder)
    {
        ArgumentNullException.ThrowIfNull(outputFolder);
        if (!Directory.Exists(outputFolder)) return null;
        AtomicFolder.Recover(outputFolder);     // entries a killed final save left beside the folder
        AtomicFolder.RecoverAll(outputFolder);  // ".checkpoint-N.tmp-<guid>" of killed checkpoint saves
        return List(outputFolder).Select(c => c.Path).LastOrDefault();
    }

    /// <summary>The <c>checkpoint-&lt;step&gt;</c> folders under <paramref name="outputFolder"/> that hold a <c>trainer_state.json</c>, oldest first.</summary>
    internal static List<(string Path, long Step)> List(string outputFolder)
    {
        if (!Directory.Exists(outputFolder)) return [];
        return Directory.GetDirectories(outputFolder, FolderPrefix + "*")
            .Select(d => (Path: d, Step: long.TryParse(Path.GetFileName(d)[FolderPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : -1))
            .Where(c => c.Step >= 0 && File.Exists(Path.Combine(c.Path, TrainingState.FileName)))
            .OrderBy(c => c.Step)
            .ToList();
    }

    /// <summary>
    /// Deletes all but the newest <paramref name="keep"/> checkpoints under <paramref name="outputFolder"/>, never one of
    /// <paramref name="protect"/> (the checkpoint just saved, the best one). The one pruning of fine-tuning and pre-training.
    /// </summary>
    /// <exception cref="CheckpointException">An old checkpoint cannot be deleted; the message names it.</exception>
    internal static void Prune(string outputFolder, int keep, params string?[] protect)
    {
        var kept = protect.OfType<string>().Select(p => Path.GetFullPath(p).TrimEnd(Path.DirectorySeparatorChar)).ToHashSet(StringComparer.Ordinal);
        var all = List(outputFolder);
        foreach (var (path, _) in all.Take(Math.Max(0, all.Count - keep)))
            if (!kept.Contains(Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar))) Delete(path, "old checkpoint");
    }

    /// <summary>Deletes a checkpoint folder of a run; <paramref name="what"/> says which for the message.</summary>
    /// <exception cref="CheckpointException">It cannot be deleted (an IO or permission error); the message names it.</exception>
    internal static void Delete(string folder, string what)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"Cannot remove {what} '{folder}': {e.Message}", e);
        }
    }

    /// <summary>The folder name a run gives the checkpoint of <paramref name="step"/>.</summary>
    public static string FolderName(long step) => FolderPrefix + step.ToString(CultureInfo.InvariantCulture);

    private static string Describe(IReadOnlyList<string> keys) =>
        keys.Count == 0 ? "none" : string.Join(", ", keys.Take(8)) + (keys.Count > 8 ? $" … ({keys.Count} in all)" : "");
}
