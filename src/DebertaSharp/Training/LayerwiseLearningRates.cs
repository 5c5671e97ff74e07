using System.Globalization;
using DebertaSharp.Modeling;

namespace DebertaSharp.Training;

/// <summary>
/// The per-parameter learning-rate factors of DeBERTa-v3's fine-tuning recipes: layer-wise decay (the top encoder
/// layer trains at the full rate, each layer below at <c>decay</c> times the one above, the embeddings below the
/// lowest layer) and a separate rate for the task head.
/// </summary>
public static class LayerwiseLearningRates
{
    /// <summary>
    /// The depth of a parameter below the top encoder layer: layer <c>i</c> of <c>N</c> is at depth <c>N − 1 − i</c>;
    /// the embeddings and the encoder's shared parts (relative position table, its LayerNorm, the v2 convolution),
    /// which feed every layer from below, at depth <c>N</c>; <c>null</c> for the head (anything outside the encoder).
    /// </summary>
    /// <param name="name">The parameter's name, with or without the <c>deberta.</c> prefix of head models.</param>
    /// <param name="numLayers">The encoder's number of layers.</param>
    public static int? Depth(string name, int numLayers)
    {
        ArgumentNullException.ThrowIfNull(name);
        string prefix = DebertaPreTrainedModel.BasePrefix + ".";
        string local = name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name;
        if (local.StartsWith("embeddings.", StringComparison.Ordinal)) return numLayers;
        if (!local.StartsWith("encoder.", StringComparison.Ordinal)) return null;
        const string layer = "encoder.layer.";
        if (local.StartsWith(layer, StringComparison.Ordinal))
        {
            int dot = local.IndexOf('.', layer.Length);
            if (dot > 0 && int.TryParse(local.AsSpan(layer.Length, dot - layer.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int i))
                return numLayers - 1 - i;
        }
        return numLayers;
    }

    /// <summary>
    /// The learning-rate factor of each parameter: <paramref name="layerDecay"/>^depth for the encoder (1 when no decay),
    /// <paramref name="headScale"/> for the head. The factor multiplies the scheduled learning rate.
    /// </summary>
    /// <param name="numLayers">The encoder's number of layers.</param>
    /// <param name="layerDecay">Layer-wise decay in (0, 1]; <c>null</c> for none.</param>
    /// <param name="headScale">The head's factor (head learning rate / base learning rate).</param>
    public static Func<string, double> Scales(int numLayers, double? layerDecay, double headScale = 1.0) =>
        name => Depth(name, numLayers) is int depth ? Math.Pow(layerDecay ?? 1.0, depth) : headScale;
}
