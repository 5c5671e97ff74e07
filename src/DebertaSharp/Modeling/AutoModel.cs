using DebertaSharp.Configuration;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>Builds or loads the model class that matches a head or a checkpoint's <c>architectures</c>.</summary>
public static class AutoModel
{
    /// <summary>Builds a randomly initialised model with the given head.</summary>
    public static DebertaPreTrainedModel Create(DebertaConfig config, HeadKind head) => head switch
    {
        HeadKind.Base => new DebertaModel(config),
        HeadKind.MaskedLM => new DebertaForMaskedLM(config),
        HeadKind.SequenceClassification => new DebertaForSequenceClassification(config),
        HeadKind.TokenClassification => new DebertaForTokenClassification(config),
        HeadKind.QuestionAnswering => new DebertaForQuestionAnswering(config),
        HeadKind.MultipleChoice => new DebertaForMultipleChoice(config),
        HeadKind.ReplacedTokenDetection => new DebertaForReplacedTokenDetection(config),
        _ => throw new ArgumentOutOfRangeException(nameof(head)),
    };

    /// <summary>The head named by <c>architectures[0]</c> of <paramref name="config"/>; the bare model when absent.</summary>
    /// <exception cref="DebertaConfigurationException">An architecture DebertaSharp does not know.</exception>
    public static HeadKind HeadOf(DebertaConfig config)
    {
        if (config.Architectures is not { Count: > 0 } archs) return HeadKind.Base;
        return Architectures.Parse(archs[0]) ?? throw new DebertaConfigurationException(
            $"Architecture '{archs[0]}' is not a DeBERTa architecture DebertaSharp supports; choose a head explicitly.");
    }

    /// <summary>
    /// Loads a checkpoint folder with the given head, or with the head its <c>config.json</c> names when
    /// <paramref name="head"/> is <c>null</c>.
    /// </summary>
    public static DebertaPreTrainedModel FromPretrained(string folder, HeadKind? head = null, Device? device = null, ScalarType? dtype = null)
    {
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.Model);
        return FromPretrained(folder, DebertaConfig.FromPretrained(folder), head, device, dtype);
    }

    /// <summary>
    /// <see cref="FromPretrained(string, HeadKind?, Device?, ScalarType?)"/> for a caller that has already read the
    /// folder's <c>config.json</c> into <paramref name="config"/>: the load parses it no second time.
    /// </summary>
    internal static DebertaPreTrainedModel FromPretrained(string folder, DebertaConfig config, HeadKind? head, Device? device, ScalarType? dtype)
    {
        var kind = head ?? HeadOf(config);
        return kind switch
        {
            HeadKind.Base => DebertaModel.Load(folder, config, device, dtype),
            HeadKind.MaskedLM => DebertaForMaskedLM.Load(folder, config, device, dtype),
            HeadKind.SequenceClassification => DebertaForSequenceClassification.Load(folder, config, device, dtype),
            HeadKind.TokenClassification => DebertaForTokenClassification.Load(folder, config, device, dtype),
            HeadKind.QuestionAnswering => DebertaForQuestionAnswering.Load(folder, config, device, dtype),
            HeadKind.MultipleChoice => DebertaForMultipleChoice.Load(folder, config, device, dtype),
            HeadKind.ReplacedTokenDetection => DebertaForReplacedTokenDetection.Load(folder, config, device, dtype),
            _ => throw new ArgumentOutOfRangeException(nameof(head)),
        };
    }
}
