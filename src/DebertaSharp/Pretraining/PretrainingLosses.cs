using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// The losses of one pre-training forward pass. <see cref="Total"/> carries the autograd graph (call backward on it);
/// the other members are plain numbers for logging. Dispose to free <see cref="Total"/>.
/// </summary>
public sealed class PretrainingLosses : IDisposable
{
    /// <summary>The loss to minimise (MLM, or MLM + λ·RTD), a scalar tensor with its graph.</summary>
    public required Tensor Total { get; init; }

    /// <summary>Mean cross-entropy of the (generator's) masked-LM predictions at the targets.</summary>
    public required double MlmLoss { get; init; }

    /// <summary>Share of targets the (generator's) MLM head predicts right (arg-max).</summary>
    public required double MlmAccuracy { get; init; }

    /// <summary>Mean binary cross-entropy of the discriminator over non-padding tokens (RTD only).</summary>
    public double? RtdLoss { get; init; }

    /// <summary>Share of non-padding tokens the discriminator classifies right (RTD only).</summary>
    public double? RtdAccuracy { get; init; }

    /// <summary>Share of targets whose sampled token differs from the original (RTD only).</summary>
    public double? ReplacedFraction { get; init; }

    /// <summary>Number of MLM targets in the batch.</summary>
    public required long Targets { get; init; }

    /// <summary>Frees <see cref="Total"/>.</summary>
    public void Dispose() => Total.Dispose();
}
