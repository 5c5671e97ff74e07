using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// Masked-LM pre-training as the original <c>MaskedLanguageModel</c>: cross-entropy at the targets, predicted through the
/// Enhanced Mask Decoder (<see cref="DebertaForMaskedLM.ForwardMaskedTargets"/> with EMD on). The model keeps the
/// absolute position table EMD reads, so saved checkpoints carry it as the released ones do.
/// </summary>
public sealed class MlmPretrainingModel : PretrainingModel
{
    private readonly PretrainingPart[] _parts;

    /// <summary>Wraps <paramref name="model"/>; turns the Enhanced Mask Decoder on when the model supports it.</summary>
    public MlmPretrainingModel(DebertaForMaskedLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (EnhancedMaskDecoder.Unsupported(model.Deberta) is null) model.UseEnhancedMaskDecoder = true;
        Model = model;
        _parts = [new PretrainingPart("", model, model.named_parameters().Select(p => (p.name, p.parameter)).ToList())];
    }

    /// <summary>A randomly initialised model for <paramref name="config"/>, with the position table EMD needs.</summary>
    public static MlmPretrainingModel Create(DebertaConfig config) =>
        new(new DebertaForMaskedLM(config, enhancedMaskDecoder: EmdPossible(config)));

    /// <summary>
    /// A model initialised from a checkpoint folder. A checkpoint without the position table (e.g. saved by HF) gets a
    /// freshly initialised one so that EMD can run; <see cref="DebertaPreTrainedModel.LoadReport"/> lists it as missing.
    /// </summary>
    /// <param name="folder">A checkpoint folder or a hub repository id.</param>
    /// <param name="device">Where the model goes; <c>null</c> keeps the CPU.</param>
    /// <param name="dtype">The parameters' type; <c>null</c> keeps float32, <see cref="TorchDtype.Auto"/> takes the checkpoint's.</param>
    public static MlmPretrainingModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.Model);
        var config = DebertaConfig.FromPretrained(folder);
        var model = new DebertaForMaskedLM(config, enhancedMaskDecoder: EmdPossible(config));
        try
        {
            using var checkpoint = CheckpointReader.Open(folder);
            model.ConvertForLoading(dtype, config, checkpoint);
            model.LoadWeights(checkpoint);
            if (device is not null) model.to(device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new MlmPretrainingModel(model);
    }

    /// <summary>The masked-LM model.</summary>
    public DebertaForMaskedLM Model { get; }

    /// <inheritdoc/>
    public override PretrainingObjective Objective => PretrainingObjective.Mlm;

    /// <inheritdoc/>
    public override IReadOnlyList<PretrainingPart> Parts => _parts;

    /// <inheritdoc/>
    public override PretrainingLosses Forward(MaskedBatch batch)
    {
        using var scope = NewDisposeScope();
        var output = Model.ForwardMaskedTargets(batch.ToInputs(Device));
        var loss = output.Loss!;
        long targets = output.TargetIndex.shape[0];
        double accuracy;
        using (no_grad()) accuracy = Mean(output.Logits.argmax(-1).eq(output.Labels!));
        return new PretrainingLosses
        {
            Total = loss.MoveToOuterDisposeScope(),
            MlmLoss = loss.detach().to(ScalarType.Float64).item<double>(),
            MlmAccuracy = accuracy,
            Targets = targets,
        };
    }
}
