using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// Shows from outside the library that backward ran the encoder layers again. Between forward and backward,
/// <see cref="TouchLayerWeights"/> adds 0 in place to every encoder-layer parameter: no value changes, but each
/// parameter's autograd version moves on. A pass that saved a layer's weights for backward then fails ("modified by an
/// inplace operation"); a checkpointed pass saved only the layer inputs and recomputes each layer in backward with
/// the weights as they are then, so it succeeds with the same gradients.
/// </summary>
internal static class CheckpointProbe
{
    /// <summary>Adds 0 in place to every parameter whose name contains <c>encoder.layer.</c>; returns how many.</summary>
    public static int TouchLayerWeights(nn.Module model)
    {
        int touched = 0;
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (!name.Contains("encoder.layer.", StringComparison.Ordinal)) continue;
                parameter.add_(0);
                touched++;
            }
        }
        if (touched == 0) throw new InvalidOperationException("The model has no encoder-layer parameters to touch.");
        return touched;
    }
}
