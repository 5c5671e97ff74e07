using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// Builds the model a fine-tuning task needs: the dataset's head, with its labels and <c>problem_type</c> in the
/// configuration (<see cref="FineTuningDataset.ConfigureModel"/>).
/// </summary>
public static class FineTuningModel
{
    /// <summary>A randomly initialised model for <paramref name="data"/> from <paramref name="config"/> (which is not changed).</summary>
    public static DebertaPreTrainedModel Create(DebertaConfig config, FineTuningDataset data)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        var configured = config.Clone();
        data.ConfigureModel(configured);
        return AutoModel.Create(configured, data.Head);
    }

    /// <summary>
    /// Loads a checkpoint folder for fine-tuning on <paramref name="data"/>. The encoder always comes from the checkpoint.
    /// Its head is kept only when it is the task's head with the same number of outputs (continuing a fine-tuning run);
    /// otherwise — a pre-trained (masked-LM or bare) checkpoint, another task's head, another label count — a new head is
    /// initialised as HF does and the checkpoint's head is listed under <see cref="LoadReport.Ignored"/>.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">The folder's <c>config.json</c> is missing or bad.</exception>
    /// <param name="folder">A checkpoint folder or a hub repository id.</param>
    /// <param name="data">The task: its head, labels and <c>problem_type</c>.</param>
    /// <param name="device">Where the model goes; <c>null</c> keeps the CPU.</param>
    /// <param name="dtype">The parameters' type; <c>null</c> keeps float32, <see cref="TorchDtype.Auto"/> takes the checkpoint's.</param>
    /// <exception cref="CheckpointException">The weights are missing or do not fit the configuration.</exception>
    public static DebertaPreTrainedModel FromPretrained(string folder, FineTuningDataset data, Device? device = null, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(data);
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.Model);
        var original = DebertaConfig.FromPretrained(folder);
        var model = Create(original, data);
        try
        {
            if (AutoModel.HeadOf(original) == data.Head && original.NumLabels == model.Config.NumLabels)
            {
                using var checkpoint = Checkpoints.CheckpointReader.Open(folder);
                model.ConvertForLoading(dtype, original, checkpoint);
                model.LoadWeights(checkpoint);
            }
            else
            {
                LoadEncoderOnly(folder, model, original, dtype);
            }
            if (device is not null) model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // The checkpoint's encoder into the model's encoder; the model keeps its freshly initialised head.
    private static void LoadEncoderOnly(string folder, DebertaPreTrainedModel model, DebertaConfig original, ScalarType? dtype)
    {
        using var encoder = DebertaModel.Load(folder, original, device: null, dtype);     // config.json already read
        if (encoder.DType != model.DType) model.to(encoder.DType);             // the new head in the encoder's type
        var report = encoder.LoadReport!;
        var target = model.Deberta.state_dict();
        using (no_grad())
            foreach (var (name, tensor) in encoder.state_dict())
                target[name].copy_(tensor);
        string prefix = DebertaPreTrainedModel.BasePrefix + ".";
        string reason = $"the checkpoint's {Architectures.Name(original.ModelType, AutoModel.HeadOf(original))} head, replaced by a new {model.ArchitectureName} head";
        model.LoadReport = report with
        {
            Loaded = report.Loaded.Select(n => prefix + n).ToList(),
            Missing = [.. report.Missing.Select(n => prefix + n), .. model.state_dict().Keys.Where(k => !k.StartsWith(prefix, StringComparison.Ordinal))],
            Unexpected = [],
            Ignored = [.. report.Ignored, .. report.Unexpected.Select(k => (k, reason))],
        };
    }
}
