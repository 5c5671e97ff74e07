using DebertaSharp.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The bare DeBERTa encoder (HF <c>DebertaModel</c> / <c>DebertaV2Model</c>): embeddings then the encoder stack.
/// Keys have no prefix (<c>embeddings.*</c>, <c>encoder.*</c>); heads hold it as <c>deberta</c>.
/// </summary>
public sealed class DebertaModel : DebertaPreTrainedModel
{
    private readonly DebertaEmbeddings embeddings;
    private readonly DebertaEncoder encoder;

    /// <summary>Builds a randomly initialised model (HF initialisation) for <paramref name="config"/>.</summary>
    public DebertaModel(DebertaConfig config) : this(config, initialize: true) { }

    internal DebertaModel(DebertaConfig config, bool initialize, bool withPositionTable = false) : base("deberta", config)
    {
        embeddings = new DebertaEmbeddings(config, withPositionTable);
        encoder = new DebertaEncoder(config);
        RegisterComponents();
        if (initialize) InitializeWeights();
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.Base;

    /// <summary>Loads a checkpoint folder (a head checkpoint works too: its <c>deberta.</c> keys are used).</summary>
    public static DebertaModel FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaModel Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, c => new DebertaModel(c), device, dtype);

    /// <summary>The embedding block.</summary>
    public DebertaEmbeddings Embeddings => embeddings;

    /// <summary>The encoder stack.</summary>
    public DebertaEncoder Encoder => encoder;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => this;

    /// <summary>Runs embeddings and encoder; <see cref="DebertaOutput.LastHiddenState"/> is [B, L, hidden].</summary>
    public DebertaOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, bool outputHiddenStates = false, bool outputAttentions = false) =>
        Forward(new DebertaInputs(inputIds) { AttentionMask = attentionMask, TokenTypeIds = tokenTypeIds, PositionIds = positionIds },
            outputHiddenStates, outputAttentions);

    /// <inheritdoc/>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var (last, all, attentions) = Encode(inputs, outputHiddenStates, outputAttentions);
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions };
    }

    /// <summary>Validated encoder pass used by every head: returns tensors in the caller's dispose scope.</summary>
    internal (Tensor Last, List<Tensor>? All, List<Tensor>? Attentions) Encode(DebertaInputs inputs,
        bool outputHiddenStates, bool outputAttentions)
    {
        if (!inputs.Validated) InputValidation.Check(Config, inputs);
        ForwardProfile.Mark("input validation");
        var ids = inputs.InputIds;
        var mask = inputs.AttentionMask ?? ones_like(ids);
        var embedded = embeddings.Forward(ids, inputs.TokenTypeIds, inputs.PositionIds, mask);
        ForwardProfile.Mark("embeddings");
        return encoder.Forward(embedded, mask, outputHiddenStates, outputAttentions);
    }
}
