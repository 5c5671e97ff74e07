using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// Cross-entropy with class weights and label smoothing, as <c>torch.nn.functional.cross_entropy(weight=…,
/// label_smoothing=…, ignore_index=-100)</c> computes it: (1 − ε)·Σ w_y·(−log p_y) / Σ w_y + ε/C · Σ_c w_c·(−log p_c) / Σ w_y.
/// </summary>
internal static class WeightedCrossEntropy
{
    /// <summary>The mean loss over the labelled rows of <paramref name="logits"/> [N…, C] against <paramref name="labels"/> [N…] (−100 = ignored); 0 when none is labelled.</summary>
    public static Tensor Loss(Tensor logits, Tensor labels, Tensor? classWeights, double smoothing)
    {
        long classes = logits.shape[^1];
        using var scope = NewDisposeScope();
        Tensor flat = logits.reshape(-1, classes).to(ScalarType.Float32);               // [N, C]
        Tensor y = labels.reshape(-1).to(ScalarType.Int64);                             // [N]
        Tensor index = y.ne(-100).nonzero().view(-1);                                   // [T]
        if (index.shape[0] == 0) return (flat.sum() * 0).MoveToOuterDisposeScope();     // keeps the graph: no labelled row, loss 0
        Tensor target = y.index_select(0, index);                                       // [T]
        Tensor logp = flat.index_select(0, index).log_softmax(-1);                      // [T, C]
        Tensor w = classWeights?.to(ScalarType.Float32, logits.device) ?? ones(classes, ScalarType.Float32, logits.device);   // [C]
        Tensor wy = w.index_select(0, target);                                          // [T]
        Tensor norm = wy.sum();
        Tensor nll = -(logp.gather(1, target.unsqueeze(1)).squeeze(1) * wy).sum() / norm;
        if (smoothing == 0) return nll.MoveToOuterDisposeScope();
        Tensor smooth = -(logp * w.unsqueeze(0)).sum() / norm;
        return ((1 - smoothing) * nll + (smoothing / classes) * smooth).MoveToOuterDisposeScope();
    }
}
