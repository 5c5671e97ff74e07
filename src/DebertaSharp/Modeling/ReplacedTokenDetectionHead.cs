using DebertaSharp.Configuration;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The DeBERTa-v3 discriminator head of the original microsoft/DeBERTa code (<c>LMMaskPredictionHead</c>), keys
/// <c>mask_predictions.{dense, LayerNorm, classifier}.*</c> as in the released v3 checkpoints: each token's state plus
/// the <c>[CLS]</c> state, LayerNorm, dense, activation, then one logit per token ("was this token replaced?").
/// </summary>
public sealed class ReplacedTokenDetectionHead : nn.Module
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Linear classifier;
    private readonly string _activation;

    /// <summary>Builds dense(hidden → hidden), LayerNorm(hidden) and classifier(hidden → 1).</summary>
    public ReplacedTokenDetectionHead(DebertaConfig config) : base("mask_predictions")
    {
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        classifier = nn.Linear(config.HiddenSize, 1);
        _activation = config.HiddenAct;
        RegisterComponents();
    }

    /// <summary>Replacement logits [B, L] for encoder states [B, L, hidden].</summary>
    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var context = hidden.select(1, 0).unsqueeze(1);                              // [B, 1, H] the [CLS] state
        var states = LayerNorm.forward(context + hidden);                            // [B, L, H]
        states = Dense.Forward(dense, states, _activation);           // [B, L, H]
        return Dense.Forward(classifier, states).squeeze(-1).MoveToOuterDisposeScope();     // [B, L]
    }
}
