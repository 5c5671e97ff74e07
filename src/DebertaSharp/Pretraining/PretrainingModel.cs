using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// The model(s) of a pre-training objective: how a masked batch becomes a loss, which parts have their own optimizer
/// and checkpoint folder, and what must happen around the backward pass and saving.
/// Implementations: <see cref="MlmPretrainingModel"/> and <see cref="RtdPretrainingModel"/>.
/// </summary>
public abstract class PretrainingModel : IDisposable
{
    private bool _disposed;

    /// <summary>The objective.</summary>
    public abstract PretrainingObjective Objective { get; }

    /// <summary>The separately optimised and saved models.</summary>
    public abstract IReadOnlyList<PretrainingPart> Parts { get; }

    /// <summary>The device of the parameters.</summary>
    public Device Device => Parts[0].Model.Device;

    /// <summary>
    /// Runs the objective on <paramref name="batch"/>. <see cref="PretrainingLosses.Total"/> keeps its graph and belongs
    /// to the caller's dispose scope; everything else made here is freed before returning.
    /// </summary>
    public abstract PretrainingLosses Forward(MaskedBatch batch);

    /// <summary>Called after backward, before clipping and the optimizer steps (GDES moves gradients here).</summary>
    public virtual void AfterBackward() { }

    /// <summary>Brings derived weights up to date before the parts are saved (GDES writes E_G + E_Δ here).</summary>
    public virtual void BeforeSave() { }

    /// <summary>Switches every part to training (dropout on) or evaluation mode.</summary>
    public void Train(bool on = true)
    {
        foreach (var part in Parts) part.Model.train(on);
    }

    /// <summary>
    /// Writes the models in HF layout: the MLM model into <paramref name="folder"/>, or <c>generator/</c> and
    /// <c>discriminator/</c> below it.
    /// </summary>
    public void SavePretrained(string folder)
    {
        BeforeSave();
        foreach (var part in Parts) part.Model.SavePretrained(Path.Combine(folder, part.Folder));
    }

    /// <summary>Mean of a boolean tensor as a double.</summary>
    private protected static double Mean(Tensor flags)
    {
        using var scope = NewDisposeScope();
        return flags.numel() == 0 ? 0 : flags.to(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>Whether the generator of a config can run the Enhanced Mask Decoder (as <c>EnhancedMaskDecoder.Unsupported</c> decides for a model with a position table).</summary>
    private protected static bool EmdPossible(DebertaConfig config) =>
        config.PositionBiasedInput || config.EffectiveEmbeddingSize == config.HiddenSize;

    /// <summary>Disposes the models.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed) return;
        _disposed = true;
        if (disposing)
            foreach (var part in Parts) part.Model.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }
}
