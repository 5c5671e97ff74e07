using DebertaSharp.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DebertaSharp.Modeling;

/// <summary>
/// DeBERTa with the masked-language-modelling head (HF <c>DebertaForMaskedLM</c> / <c>DebertaV2ForMaskedLM</c>).
/// The decoder is tied to the word embeddings. Keys: <c>deberta.*</c> and <c>cls.predictions.*</c>
/// (or <c>lm_predictions.lm_head.*</c> when the checkpoint uses that layout, <c>legacy: false</c>).
/// <see cref="DebertaPreTrainedModel.Forward(DebertaInputs, bool, bool)"/> is always HF's head; <see cref="ForwardMaskedTargets"/> predicts the targets with the
/// Enhanced Mask Decoder when <see cref="UseEnhancedMaskDecoder"/> is on.
/// </summary>
public sealed class DebertaForMaskedLM : DebertaPreTrainedModel
{
    private readonly DebertaModel deberta;
    private readonly Func<Tensor, Tensor, Tensor> _logits;   // a delegate, so RegisterComponents does not see the head twice
    private readonly EnhancedMaskDecoder _emd;
    private bool _useEmd;

    /// <summary>Builds a randomly initialised model; the head layout follows <see cref="DebertaConfig.Legacy"/>.</summary>
    public DebertaForMaskedLM(DebertaConfig config) : this(config, enhancedMaskDecoder: false) { }

    /// <summary>
    /// Builds a randomly initialised model. With <paramref name="enhancedMaskDecoder"/> the model also holds the
    /// absolute position table (<c>deberta.embeddings.position_embeddings.weight</c>, which HF drops when
    /// <c>position_biased_input=false</c>) and <see cref="UseEnhancedMaskDecoder"/> starts on.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">EMD requested for a configuration it cannot run on.</exception>
    public DebertaForMaskedLM(DebertaConfig config, bool enhancedMaskDecoder) : base("DebertaForMaskedLM", config)
    {
        deberta = new DebertaModel(config, initialize: false, withPositionTable: enhancedMaskDecoder);
        RegisterComponents();
        // The head registers under its HF container name, not under the field's name.
        IMaskedLMHead head;
        if (config.Legacy)
        {
            var legacy = new LegacyLMPredictionHead(config);
            register_module("cls", new Container("cls", "predictions", legacy));
            head = legacy;
        }
        else
        {
            var lmHead = new LMPredictionHead(config);
            register_module("lm_predictions", new Container("lm_predictions", "lm_head", lmHead));
            head = lmHead;
        }
        _logits = head.Forward;
        _emd = new EnhancedMaskDecoder(deberta, _logits);
        InitializeWeights();
        UseEnhancedMaskDecoder = enhancedMaskDecoder;
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.MaskedLM;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => deberta;

    /// <summary>
    /// Whether <see cref="ForwardMaskedTargets"/> uses the Enhanced Mask Decoder (otherwise the plain HF head).
    /// <c>FromPretrained</c> turns it on when the checkpoint carries <c>deberta.embeddings.position_embeddings.weight</c>
    /// and <c>position_biased_input</c> is false; it is off otherwise. With <c>position_biased_input=true</c> it may be
    /// turned on and then reads the last layer's output, as the original code does.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">Turned on for a model without the position table (or with
    /// <c>embedding_size</c> ≠ <c>hidden_size</c>) while <c>position_biased_input</c> is false.</exception>
    public bool UseEnhancedMaskDecoder
    {
        get => _useEmd;
        set
        {
            if (value && EnhancedMaskDecoder.Unsupported(deberta) is { } why)
                throw new DebertaConfigurationException($"Cannot use the Enhanced Mask Decoder: {why}.");
            _useEmd = value;
        }
    }

    /// <summary>
    /// Loads a checkpoint folder (<c>config.json</c> + weights); see <see cref="LoadReport"/> for key details.
    /// The head layout and <see cref="UseEnhancedMaskDecoder"/> follow the checkpoint's keys.
    /// </summary>
    public static DebertaForMaskedLM FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaForMaskedLM Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, Build, device, dtype);

    /// <summary>
    /// Builds the model the checkpoint describes: the head layout it uses (only <c>lm_predictions.lm_head.*</c> →
    /// <c>legacy: false</c>) and, when it carries the absolute position table that <c>position_biased_input=false</c>
    /// leaves unused, the table plus the Enhanced Mask Decoder.
    /// </summary>
    private static DebertaForMaskedLM Build(DebertaConfig config, Checkpoints.CheckpointReader checkpoint)
    {
        bool hasLegacy = checkpoint.Keys.Any(k => k.StartsWith("cls.predictions.", StringComparison.Ordinal));
        bool hasNew = checkpoint.Keys.Any(k => k.StartsWith("lm_predictions.lm_head.", StringComparison.Ordinal));
        bool hasTable = checkpoint.Keys.Any(k => k is BasePrefix + ".embeddings.position_embeddings.weight" or "embeddings.position_embeddings.weight");
        if (hasNew && !hasLegacy && config.Legacy) { config = config.Clone(); config.Legacy = false; }
        bool emd = hasTable && !config.PositionBiasedInput && config.EffectiveEmbeddingSize == config.HiddenSize;
        return new DebertaForMaskedLM(config, emd);
    }

    /// <inheritdoc/>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var (last, all, attentions) = deberta.Encode(inputs, outputHiddenStates, outputAttentions);
        var logits = _logits(last, deberta.Embeddings.WordEmbeddings);         // [B, L, vocab]
        Tensor? loss = null;
        if (inputs.Labels is { } labels)
            loss = F.cross_entropy(logits.view(-1, Config.VocabSize), labels.view(-1), ignore_index: -100);
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions, Logits = logits, Loss = loss };
    }

    /// <summary>
    /// Predicts only the target positions: with <see cref="UseEnhancedMaskDecoder"/> through the Enhanced Mask Decoder
    /// (the original DeBERTa pre-training head), otherwise through the plain HF head on the last hidden state.
    /// <paramref name="targetMask"/> [B, L] marks targets with non-zero entries; when <c>null</c> the targets are the
    /// positions where <see cref="DebertaInputs.Labels"/> ≠ −100. Labels use HF's convention (−100 = ignore).
    /// Rows of the result are the targets in row-major order of (batch, position).
    /// </summary>
    /// <exception cref="DebertaInputException">Neither targets nor labels given, shapes that differ from input_ids, or bad ids.</exception>
    public MaskedTargetsOutput ForwardMaskedTargets(DebertaInputs inputs, Tensor? targetMask = null, bool outputHiddenStates = false)
    {
        var ids = inputs.InputIds;
        if (targetMask is null && inputs.Labels is null)
            throw new DebertaInputException("ForwardMaskedTargets needs a target mask or labels (−100 = not a target).");
        if (targetMask is not null && !targetMask.shape.SequenceEqual(ids.shape))
            throw new DebertaInputException($"target mask has shape {Shapes.Format(targetMask.shape)} but input_ids has {Shapes.Format(ids.shape)}.");

        using var scope = NewDisposeScope();
        // The same checks as Forward: labels of input_ids' shape, integer, inside the vocabulary or −100.
        inputs = InputValidation.Prepare(Config, HeadKind.MaskedLM, inputs) with { Validated = true };
        var targets = targetMask ?? inputs.Labels!.ne(-100);                             // [B, L]
        var (last, all, _) = deberta.Encode(inputs, outputHiddenStates: true, outputAttentions: false);
        var mask = inputs.AttentionMask ?? ones_like(ids);
        var index = targets.ne(0).reshape(-1).nonzero().view(-1);                      // [T]
        Tensor logits;
        IReadOnlyList<Tensor> queries;
        Tensor? z = null;
        if (_useEmd)
        {
            List<Tensor> steps;
            (logits, steps, z) = _emd.Forward(all!, mask, index, inputs.PositionIds);   // [T, vocab]
            queries = steps;
        }
        else
        {
            var atTargets = last.reshape(-1, last.shape[^1]).index_select(0, index);   // [T, H]
            logits = _logits(atTargets, deberta.Embeddings.WordEmbeddings);              // [T, vocab]
            queries = [];
        }

        Tensor? labels = null, perToken = null, loss = null;
        if (inputs.Labels is { } allLabels)
        {
            labels = allLabels.reshape(-1).index_select(0, index).to(ScalarType.Int64); // [T]
            if (index.shape[0] == 0)
            {
                perToken = zeros(0, dtype: logits.dtype, device: logits.device);
                loss = zeros(Array.Empty<long>(), dtype: logits.dtype, device: logits.device);
            }
            else
            {
                perToken = F.cross_entropy(logits, labels, ignore_index: -100, reduction: nn.Reduction.None);   // [T]
                loss = F.cross_entropy(logits, labels, ignore_index: -100);                                    // []
            }
        }

        var output = new MaskedTargetsOutput
        {
            UsedEnhancedMaskDecoder = _useEmd,
            TargetIndex = index,
            Logits = logits,
            QueryStates = queries,
            PositionStates = z,
            Labels = labels,
            LossPerToken = perToken,
            Loss = loss,
            HiddenStates = outputHiddenStates ? all : null,
        };
        OutputTensors.MoveOutOnce(output.NamedTensors());
        return output;
    }
}

/// <summary>
/// DeBERTa with a sequence classification / regression head (HF <c>…ForSequenceClassification</c>):
/// <c>pooler</c> (ContextPooler), dropout, <c>classifier</c>. The loss follows <c>problem_type</c>, with HF's rules when it is null.
/// </summary>
public sealed class DebertaForSequenceClassification : DebertaPreTrainedModel
{
    private readonly DebertaModel deberta;
    private readonly ContextPooler pooler;
    private readonly Linear classifier;
    private readonly Dropout dropout;

    /// <summary>Builds a randomly initialised model with <see cref="DebertaConfig.NumLabels"/> outputs.</summary>
    public DebertaForSequenceClassification(DebertaConfig config) : base("DebertaForSequenceClassification", config)
    {
        deberta = new DebertaModel(config, initialize: false);
        pooler = new ContextPooler(config);
        classifier = nn.Linear(config.EffectivePoolerHiddenSize, config.NumLabels);
        dropout = nn.Dropout(config.ClsDropout ?? config.HiddenDropoutProb);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.SequenceClassification;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => deberta;

    /// <summary>Loads a checkpoint folder; a base or other-head checkpoint gets a freshly initialised classifier (reported).</summary>
    public static DebertaForSequenceClassification FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaForSequenceClassification Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, c => new DebertaForSequenceClassification(c), device, dtype);

    /// <inheritdoc/>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var (last, all, attentions) = deberta.Encode(inputs, outputHiddenStates, outputAttentions);
        var logits = Dense.Forward(classifier, dropout.forward(pooler.Forward(last)));      // [B, labels]
        Tensor? loss = null;
        if (inputs.Labels is { } labels) (logits, loss) = Losses.SequenceClassification(Config, logits, labels);
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions, Logits = logits, Loss = loss };
    }
}

/// <summary>DeBERTa with a per-token classifier (HF <c>…ForTokenClassification</c>): dropout, <c>classifier</c>.</summary>
public sealed class DebertaForTokenClassification : DebertaPreTrainedModel
{
    private readonly DebertaModel deberta;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    /// <summary>Builds a randomly initialised model with <see cref="DebertaConfig.NumLabels"/> outputs per token.</summary>
    public DebertaForTokenClassification(DebertaConfig config) : base("DebertaForTokenClassification", config)
    {
        deberta = new DebertaModel(config, initialize: false);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        classifier = nn.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.TokenClassification;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => deberta;

    /// <summary>Loads a checkpoint folder; see <see cref="DebertaPreTrainedModel.LoadReport"/>.</summary>
    public static DebertaForTokenClassification FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaForTokenClassification Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, c => new DebertaForTokenClassification(c), device, dtype);

    /// <inheritdoc/>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var (last, all, attentions) = deberta.Encode(inputs, outputHiddenStates, outputAttentions);
        var logits = Dense.Forward(classifier, dropout.forward(last));                         // [B, L, labels]
        Tensor? loss = null;
        if (inputs.Labels is { } labels)
            loss = F.cross_entropy(logits.view(-1, Config.NumLabels), labels.view(-1), ignore_index: -100);
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions, Logits = logits, Loss = loss };
    }
}

/// <summary>DeBERTa for extractive question answering (HF <c>…ForQuestionAnswering</c>): <c>qa_outputs</c> → start/end scores.</summary>
public sealed class DebertaForQuestionAnswering : DebertaPreTrainedModel
{
    private readonly DebertaModel deberta;
    private readonly Linear qa_outputs;

    /// <summary>Builds a randomly initialised model (<c>qa_outputs</c> has <see cref="DebertaConfig.NumLabels"/> = 2 outputs).</summary>
    public DebertaForQuestionAnswering(DebertaConfig config) : base("DebertaForQuestionAnswering", config)
    {
        if (config.NumLabels != 2)
            throw new DebertaConfigurationException($"Question answering needs num_labels = 2 (start, end), got {config.NumLabels}.");
        deberta = new DebertaModel(config, initialize: false);
        qa_outputs = nn.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.QuestionAnswering;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => deberta;

    /// <summary>Loads a checkpoint folder; see <see cref="DebertaPreTrainedModel.LoadReport"/>.</summary>
    public static DebertaForQuestionAnswering FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaForQuestionAnswering Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, c => new DebertaForQuestionAnswering(c), device, dtype);

    /// <inheritdoc/>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var (last, all, attentions) = deberta.Encode(inputs, outputHiddenStates, outputAttentions);
        var scores = Dense.Forward(qa_outputs, last);                                           // [B, L, 2]
        var start = scores.select(-1, 0).contiguous();
        var end = scores.select(-1, 1).contiguous();
        Tensor? loss = null;
        if (inputs.StartPositions is { } sp && inputs.EndPositions is { } ep)
        {
            // HF: positions outside the sequence are clamped to L and ignored.
            long ignored = start.shape[1];
            var s = (sp.dim() > 1 ? sp.squeeze(-1) : sp).clamp(0, ignored);
            var e = (ep.dim() > 1 ? ep.squeeze(-1) : ep).clamp(0, ignored);
            loss = (F.cross_entropy(start, s, ignore_index: ignored) + F.cross_entropy(end, e, ignore_index: ignored)) / 2;
        }
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions, StartLogits = start, EndLogits = end, Loss = loss };
    }
}

/// <summary>
/// DeBERTa for multiple choice (HF <c>…ForMultipleChoice</c>): inputs [B, C, L] are flattened to [B·C, L],
/// pooled, scored by <c>classifier</c> (one output) and reshaped to [B, C].
/// </summary>
public sealed class DebertaForMultipleChoice : DebertaPreTrainedModel
{
    private readonly DebertaModel deberta;
    private readonly ContextPooler pooler;
    private readonly Linear classifier;
    private readonly Dropout dropout;

    /// <summary>Builds a randomly initialised model.</summary>
    public DebertaForMultipleChoice(DebertaConfig config) : base("DebertaForMultipleChoice", config)
    {
        deberta = new DebertaModel(config, initialize: false);
        pooler = new ContextPooler(config);
        classifier = nn.Linear(config.EffectivePoolerHiddenSize, 1);
        dropout = nn.Dropout(config.ClsDropout ?? config.HiddenDropoutProb);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.MultipleChoice;

    /// <inheritdoc/>
    protected override DebertaModel BaseModel => deberta;

    /// <summary>Loads a checkpoint folder; see <see cref="DebertaPreTrainedModel.LoadReport"/>.</summary>
    public static DebertaForMultipleChoice FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        Load(folder, null, device, dtype);

    /// <summary>As <see cref="FromPretrained"/>, with the folder's <c>config.json</c> already read into <paramref name="config"/> (or <c>null</c> to read it).</summary>
    internal static DebertaForMultipleChoice Load(string folder, DebertaConfig? config, Device? device, ScalarType? dtype) =>
        LoadPretrained(folder, config, c => new DebertaForMultipleChoice(c), device, dtype);

    /// <inheritdoc/>
    protected override DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions)
    {
        var ids = inputs.InputIds;
        if (ids.dim() != 3)
            throw new DebertaInputException($"Multiple choice input_ids must be [batch, choices, length], got {Shapes.Format(ids.shape)}.");
        long choices = ids.shape[1];
        Tensor? Flat(Tensor? t) => t is null ? null : t.dim() == 3 ? t.reshape(-1, t.shape[2]) :
            throw new DebertaInputException($"Multiple choice inputs must be [batch, choices, length], got {Shapes.Format(t.shape)}.");
        var flat = new DebertaInputs(Flat(ids)!)
        {
            AttentionMask = Flat(inputs.AttentionMask),
            TokenTypeIds = Flat(inputs.TokenTypeIds),
            PositionIds = Flat(inputs.PositionIds),
            Validated = inputs.Validated,
        };
        var (last, all, attentions) = deberta.Encode(flat, outputHiddenStates, outputAttentions);
        var logits = Dense.Forward(classifier, dropout.forward(pooler.Forward(last))).view(-1, choices);   // [B, C]
        Tensor? loss = null;
        if (inputs.Labels is { } labels) loss = F.cross_entropy(logits, labels.view(-1));
        return new DebertaOutput { LastHiddenState = last, HiddenStates = all, Attentions = attentions, Logits = logits, Loss = loss };
    }
}

/// <summary>HF's sequence-classification loss rules.</summary>
internal static class Losses
{
    public static (Tensor Logits, Tensor Loss) SequenceClassification(DebertaConfig config, Tensor logits, Tensor labels)
    {
        int n = config.NumLabels;
        switch (config.ProblemType)
        {
            case null when n == 1:
            {
                // HF: regression; returns the flattened logits cast to the labels' dtype.
                var flat = logits.view(-1).to(labels.dtype);
                return (flat, F.mse_loss(flat, labels.view(-1)));
            }
            case null when labels.dim() == 1 || labels.shape[^1] == 1:
            {
                // HF: only rows with a label ≥ 0 count; no labelled row gives loss 0.
                var flatLabels = labels.view(-1).to(ScalarType.Int64);
                var index = flatLabels.ge(0).nonzero().view(-1);
                if (index.shape[0] == 0) return (logits, zeros(Array.Empty<long>(), dtype: logits.dtype, device: logits.device));
                var labelled = logits.index_select(0, index).view(-1, n).to(ScalarType.Float32);
                return (logits, F.cross_entropy(labelled, flatLabels.index_select(0, index)));
            }
            case null:
                // HF: soft labels [B, n].
                return (logits, -(F.log_softmax(logits, -1) * labels).sum(-1).mean());
            case "regression":
                return (logits, n == 1 ? F.mse_loss(logits.squeeze(), labels.squeeze()) : F.mse_loss(logits, labels));
            case "single_label_classification":
                return (logits, F.cross_entropy(logits.view(-1, n), labels.view(-1)));
            default: // multi_label_classification
                return (logits, F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype)));
        }
    }
}
