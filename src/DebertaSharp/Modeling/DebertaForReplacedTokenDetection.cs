using DebertaSharp.Configuration;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DebertaSharp.Modeling;

/// <summary>
/// The replaced-token-detection discriminator of DeBERTa-v3 (the original code's <c>ReplacedTokenDetectionModel</c>):
/// the encoder (<c>deberta.*</c>) and <see cref="ReplacedTokenDetectionHead"/> (<c>mask_predictions.*</c>).
/// Saved folders hold exactly the keys of a released v3 checkpoint's discriminator, so HF loads them as
/// <c>DebertaV2Model</c> (reporting <c>mask_predictions.*</c> as unused) or any head model.
/// </summary>
public sealed class DebertaForReplacedTokenDetection : DebertaPreTrainedModel
{
    private readonly DebertaModel deberta;
    private readonly ReplacedTokenDetectionHead mask_predictions;

    /// <summary>Builds a randomly initialised discriminator (HF initialisation).</summary>
    public DebertaForReplacedTokenDetection(DebertaConfig config) : base("DebertaForReplacedTokenDetection", config)
    {
        deberta = new DebertaModel(config, initialize: false);
        mask_predictions = new ReplacedTokenDetectionHead(config);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.ReplacedTokenDetection;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => deberta;

    /// <summary>Loads a checkpoint folder (a released v3 checkpoint carries <c>mask_predictions.*</c>; a base checkpoint gets a new head, reported as missing).</summary>
    public static DebertaForReplacedTokenDetection FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaForReplacedTokenDetection Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, c => new DebertaForReplacedTokenDetection(c), device, dtype);

    /// <summary>
    /// Logits [B, L] (positive = replaced). With <see cref="DebertaInputs.Labels"/> [B, L] (1 = replaced, 0 = original)
    /// the loss is the mean binary cross-entropy over every non-padding position, <c>[CLS]</c>/<c>[SEP]</c> included,
    /// as the original code computes it.
    /// </summary>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var (last, all, attentions) = deberta.Encode(inputs, outputHiddenStates, outputAttentions);
        var logits = mask_predictions.Forward(last);                                     // [B, L]
        Tensor? loss = null;
        if (inputs.Labels is { } labels)
        {
            if (!labels.shape.SequenceEqual(logits.shape))
                throw new DebertaInputException($"Replaced-token labels have shape {Shapes.Format(labels.shape)} but input_ids has {Shapes.Format(logits.shape)}.");
            var mask = inputs.AttentionMask ?? ones_like(inputs.InputIds);
            var active = mask.reshape(-1).ne(0).nonzero().view(-1);                      // [N]
            var activeLogits = logits.reshape(-1).index_select(0, active).to(ScalarType.Float32);
            var activeLabels = labels.reshape(-1).index_select(0, active).to(ScalarType.Float32);
            loss = F.binary_cross_entropy_with_logits(activeLogits, activeLabels).to(logits.dtype);
        }
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions, Logits = logits, Loss = loss };
    }
}
