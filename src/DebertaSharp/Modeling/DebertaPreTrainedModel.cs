using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>Which head a model carries on top of the encoder.</summary>
public enum HeadKind
{
    /// <summary>No head: the bare encoder (<c>DebertaModel</c>).</summary>
    Base,
    /// <summary>Masked language modelling (<c>…ForMaskedLM</c>).</summary>
    MaskedLM,
    /// <summary>Sequence classification / regression (<c>…ForSequenceClassification</c>).</summary>
    SequenceClassification,
    /// <summary>Per-token classification (<c>…ForTokenClassification</c>).</summary>
    TokenClassification,
    /// <summary>Extractive question answering (<c>…ForQuestionAnswering</c>).</summary>
    QuestionAnswering,
    /// <summary>Multiple choice (<c>…ForMultipleChoice</c>).</summary>
    MultipleChoice,
    /// <summary>Replaced-token detection, the DeBERTa-v3 pre-training discriminator (<c>mask_predictions.*</c>;
    /// <c>…ForReplacedTokenDetection</c>, a name HF does not define: HF loads such a folder as <c>DebertaV2Model</c>).</summary>
    ReplacedTokenDetection,
}

/// <summary>
/// Base of every DeBERTa model: configuration, HF weight initialisation, forward entry point with a dispose scope,
/// and HuggingFace-compatible <c>FromPretrained</c> / <c>SavePretrained</c>.
/// Parameter names are HF's checkpoint keys (<c>deberta.encoder.layer.0.attention.self.query_proj.weight</c>).
/// </summary>
public abstract class DebertaPreTrainedModel : nn.Module
{
    /// <summary>HF's <c>base_model_prefix</c>: heads hold the encoder under this name.</summary>
    public const string BasePrefix = "deberta";

    /// <summary>Creates the module.</summary>
    protected DebertaPreTrainedModel(string name, DebertaConfig config) : base(name)
    {
        config.Validate();
        Config = config;
    }

    /// <summary>The configuration this model was built from.</summary>
    public DebertaConfig Config { get; }

    /// <summary>The head this model carries.</summary>
    public abstract HeadKind Head { get; }

    /// <summary>The LoRA adapter applied to this model (<see cref="Adapters.Lora.Apply"/>), with its resolved modules; <c>null</c> when none.</summary>
    public Adapters.LoraOptions? LoraOptions { get; internal set; }

    /// <summary>The report of the last <see cref="LoadWeights"/> / <c>FromPretrained</c>, if any.</summary>
    public LoadReport? LoadReport { get; internal set; }

    /// <summary>The encoder (this model itself for <see cref="DebertaModel"/>).</summary>
    protected abstract DebertaModel BaseModel { get; }

    /// <summary>The encoder.</summary>
    public DebertaModel Deberta => BaseModel;

    /// <summary>HF architecture name, e.g. <c>DebertaV2ForSequenceClassification</c>.</summary>
    public string ArchitectureName => Architectures.Name(Config.ModelType, Head);

    /// <summary>
    /// How attention is computed: algorithm, query chunking of long inputs. Run-time only (not saved with the
    /// checkpoint); results agree across settings within float rounding.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">An option is out of range (on set).</exception>
    public AttentionOptions AttentionOptions
    {
        get => Deberta.Encoder.Options;
        set => Deberta.Encoder.Options = value;
    }

    /// <summary>The device of the parameters.</summary>
    public Device Device => parameters().First().device;

    /// <summary>The floating-point dtype of the parameters.</summary>
    public ScalarType DType => parameters().First().dtype;

    /// <summary>
    /// Runs the model. Tensors of the returned output belong to the caller (dispose the output);
    /// every intermediate is freed before returning.
    /// </summary>
    /// <exception cref="DebertaInputException">Inputs with bad shapes, ids outside the vocabulary, empty batches, or too long.</exception>
    public DebertaOutput Forward(DebertaInputs inputs, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        // Every tensor checked against this head before anything runs (int32 ids and labels become int64).
        inputs = InputValidation.Prepare(Config, Head, inputs);
        var output = ForwardCore(inputs with { Validated = true }, outputHiddenStates, outputAttentions);
        OutputTensors.MoveOutOnce(output.NamedTensors());
        return output;
    }

    /// <summary>Head-specific forward pass, called inside a dispose scope.</summary>
    protected abstract DebertaOutput ForwardCore(DebertaInputs inputs, bool outputHiddenStates, bool outputAttentions);

    /// <summary>
    /// HF's <c>_init_weights</c>: Linear and Embedding weights ~ N(0, initializer_range), biases 0, the padding row 0,
    /// LayerNorm 1/0; other parameters (q_bias/v_bias, the MLM bias) 0, convolutions keep PyTorch's default.
    /// </summary>
    public void InitializeWeights()
    {
        if (t_deferInitialization) return;                  // FromPretrained initialises only what the checkpoint lacks
        InitializeWeights(_ => true);
    }

    /// <summary>
    /// <see cref="InitializeWeights()"/> restricted to modules whose parameters' full names pass <paramref name="include"/>.
    /// </summary>
    internal void InitializeWeights(Func<string, bool> include)
    {
        using var noGrad = no_grad();
        double std = Config.InitializerRange;
        foreach (var (name, module) in named_modules())
        {
            string prefix = name.Length == 0 ? "" : name + ".";
            switch (module)
            {
                case Linear linear:
                    if (include(prefix + "weight")) linear.weight!.normal_(0, std);
                    if (linear.bias is not null && include(prefix + "bias")) linear.bias.zero_();
                    break;
                case Embedding embedding when include(prefix + "weight"):
                    embedding.weight!.normal_(0, std);
                    if (embedding.weight.shape[0] > Config.PadTokenId && ReferenceEquals(embedding, Deberta.Embeddings.WordEmbeddingModule))
                        embedding.weight[Config.PadTokenId].zero_();
                    break;
            }
        }
    }

    /// <summary>The head a model class has, for checks made before it is built; null where no check depends on it.</summary>
    private static HeadKind? HeadOf(Type type) =>
        type == typeof(DebertaForSequenceClassification) ? HeadKind.SequenceClassification
        : type == typeof(DebertaForTokenClassification) ? HeadKind.TokenClassification
        : type == typeof(DebertaForQuestionAnswering) ? HeadKind.QuestionAnswering
        : null;

    /// <summary>Set while <see cref="LoadPretrained{T}(string, Func{DebertaConfig, CheckpointReader, T}, Device?, ScalarType?)"/> builds a model.</summary>
    [ThreadStatic] private static bool t_deferInitialization;

    /// <summary>
    /// Copies weights from <paramref name="checkpoint"/> into this model, handling the <c>deberta.</c> prefix as HF does.
    /// Missing keys keep their initial values and are reported; unexpected and ignored keys are reported.
    /// </summary>
    /// <exception cref="CheckpointException">A tensor's shape differs from the parameter's (names the key and both shapes).</exception>
    public LoadReport LoadWeights(CheckpointReader checkpoint)
    {
        Unfreeze();                                                                // the weights are about to change
        return LoadReport = WeightLoader.Load(this, checkpoint);
    }

    /// <summary>
    /// Freezes the weights for inference, as ONNX Runtime does when it creates a session: switches to eval mode, keeps
    /// a copy of every float32 CPU dense weight in oneDNN's blocked layout, which the dense layers then read instead of
    /// having oneDNN reorder the weight on every call (deberta-v3-base at 8×128 on two Zen 5 cores: the feed-forward
    /// output product 16.6 → 12.5 ms; on one core within ±5 %), and lets the layers trust their kept projections of the
    /// relative-position table without fingerprinting the weights on every pass. Costs one more copy of the dense
    /// weights in memory.
    /// </summary>
    /// <remarks>
    /// The copies and kept projections are not updated when a weight changes: call <see cref="Unfreeze"/> before
    /// writing weights yourself. Everything in this library that writes weights unfreezes first (<see cref="LoadWeights"/>,
    /// <c>train()</c>, LoRA's <c>Apply</c> / <c>MergeAndUnload</c>); a parameter replaced by <c>to(dtype)</c> or
    /// <c>to(device)</c> is no longer frozen and is read as it is. CPUs other than x86-64 and other dtypes get no packed copies.
    /// </remarks>
    /// <returns>How many dense weights were packed.</returns>
    public int FreezeForInference()
    {
        eval();
        int packed = FrozenWeights.Freeze(this);
        IsFrozenForInference = true;
        return packed;
    }

    /// <summary>Undoes <see cref="FreezeForInference"/>: drops the packed copies; the layers read and fingerprint the weights again.</summary>
    public void Unfreeze()
    {
        FrozenWeights.Thaw(this);
        IsFrozenForInference = false;
    }

    /// <summary>Whether <see cref="FreezeForInference"/> froze this model (and nothing has unfrozen it since).</summary>
    public bool IsFrozenForInference { get; private set; }

    /// <summary>Sets training or eval mode; training mode unfreezes the model first (<see cref="Unfreeze"/>): training changes the weights.</summary>
    /// <param name="train">Training mode (<c>true</c>) or eval mode.</param>
    public override void train(bool train = true)
    {
        if (train) Unfreeze();
        base.train(train);
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> (HF layout, <c>__metadata__ {"format":"pt"}</c>) into
    /// <paramref name="folder"/>, so Python's <c>from_pretrained</c> reads it unchanged. The folder is replaced as a
    /// whole (see <see cref="AtomicFolder"/>): a reader, or a process killed mid-save, sees the old or the new model,
    /// never the config of one with the weights of another. Other files in the folder (tokenizer files) are kept;
    /// leftovers of an earlier killed save are cleaned up.
    /// </summary>
    /// <exception cref="CheckpointException">The folder cannot be written; the message names it.</exception>
    public void SavePretrained(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        AtomicFolder.Replace(folder, WriteModelFiles, carryOver: true);
    }

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> into an existing (new) folder.</summary>
    internal void WriteModelFiles(string folder)
    {
        var config = Config.Clone();
        config.Architectures = [ArchitectureName];
        config.TorchDtype = DType switch
        {
            ScalarType.Float16 => "float16",
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float64 => "float64",
            _ => "float32",
        };
        var state = state_dict();
        SafetensorsWriter.Save(Path.Combine(folder, "model.safetensors"), state, new Dictionary<string, string> { ["format"] = "pt" });
        config.Save(folder, (message, inner) => new CheckpointException(message, inner));   // part of a checkpoint save
    }

    /// <summary>
    /// Converts the parameters to <paramref name="dtype"/> before the checkpoint is read into them (no second copy of the
    /// weights): <c>null</c> keeps the model's type, <see cref="TorchDtype.Auto"/> takes the checkpoint's.
    /// </summary>
    internal void ConvertForLoading(ScalarType? dtype, DebertaConfig config, CheckpointReader checkpoint)
    {
        if (dtype == TorchDtype.Auto) dtype = TorchDtype.Of(config, checkpoint);
        if (dtype is { } dt && dt != DType) this.to(dt);
    }

    /// <summary>Loads the checkpoint folder into a freshly built model of type <typeparamref name="T"/>.</summary>
    protected static T LoadPretrained<T>(string folder, Func<DebertaConfig, T> build, Device? device, ScalarType? dtype)
        where T : DebertaPreTrainedModel =>
        LoadPretrained(folder, null, (config, _) => build(config), device, dtype);

    /// <summary>
    /// Loads the checkpoint folder into a model that <paramref name="build"/> makes from the config and the opened
    /// checkpoint (for heads whose layout depends on the keys present); the checkpoint is opened once.
    /// </summary>
    protected static T LoadPretrained<T>(string folder, Func<DebertaConfig, CheckpointReader, T> build, Device? device, ScalarType? dtype)
        where T : DebertaPreTrainedModel =>
        LoadPretrained(folder, null, build, device, dtype);

    /// <inheritdoc cref="LoadPretrained{T}(string, Func{DebertaConfig, T}, Device?, ScalarType?)"/>
    private protected static T LoadPretrained<T>(string folder, DebertaConfig? config, Func<DebertaConfig, T> build, Device? device, ScalarType? dtype)
        where T : DebertaPreTrainedModel =>
        LoadPretrained(folder, config, (c, _) => build(c), device, dtype);

    /// <summary>
    /// <see cref="LoadPretrained{T}(string, Func{DebertaConfig, CheckpointReader, T}, Device?, ScalarType?)"/> with the
    /// folder's <c>config.json</c> already parsed into <paramref name="config"/> by the caller (<c>null</c>: read it here),
    /// so that one load reads and parses <c>config.json</c> once.
    /// </summary>
    private protected static T LoadPretrained<T>(string folder, DebertaConfig? config, Func<DebertaConfig, CheckpointReader, T> build, Device? device, ScalarType? dtype)
        where T : DebertaPreTrainedModel
    {
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.Model);
        config ??= DebertaConfig.FromPretrained(folder);
        T model;
        using (var checkpoint = CheckpointReader.Open(folder))
        {
            WeightLoader.CheckConfigFits(config, HeadOf(typeof(T)), checkpoint, Directory.Exists(folder) ? Path.Combine(folder, "config.json") : folder);
            // Build without HF's random initialisation (the checkpoint overwrites it), convert to the target dtype
            // before loading (so no second copy of the weights is made afterwards), read every tensor straight into
            // its parameter, then initialise only what the checkpoint lacks.
            t_deferInitialization = true;
            try
            {
                model = build(config, checkpoint);
            }
            finally
            {
                t_deferInitialization = false;
            }
            try
            {
                model.ConvertForLoading(dtype, config, checkpoint);
                var report = model.LoadWeights(checkpoint);
                if (report.Missing.Count > 0)
                {
                    var missing = new HashSet<string>(report.Missing, StringComparer.Ordinal);
                    model.InitializeWeights(missing.Contains);
                }
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        if (device is not null) model.to(device);
        model.eval();
        return model;
    }
}

/// <summary>HF architecture names for each model type and head.</summary>
public static class Architectures
{
    /// <summary>The architecture name, e.g. <c>DebertaForMaskedLM</c> or <c>DebertaV2Model</c>.</summary>
    public static string Name(DebertaModelType type, HeadKind head) =>
        (type == DebertaModelType.Deberta ? "Deberta" : "DebertaV2") + Suffix(head);

    /// <summary>The head's part of an architecture name, e.g. <c>ForMaskedLM</c> or <c>Model</c>.</summary>
    internal static string Suffix(HeadKind head) => head switch
    {
        HeadKind.Base => "Model",
        HeadKind.MaskedLM => "ForMaskedLM",
        HeadKind.SequenceClassification => "ForSequenceClassification",
        HeadKind.TokenClassification => "ForTokenClassification",
        HeadKind.QuestionAnswering => "ForQuestionAnswering",
        HeadKind.MultipleChoice => "ForMultipleChoice",
        HeadKind.ReplacedTokenDetection => "ForReplacedTokenDetection",
        _ => throw new ArgumentOutOfRangeException(nameof(head)),
    };

    /// <summary>The head an HF architecture name denotes; <c>null</c> when unknown.</summary>
    public static HeadKind? Parse(string architecture)
    {
        foreach (var head in Enum.GetValues<HeadKind>())
            foreach (var type in Enum.GetValues<DebertaModelType>())
                if (Name(type, head) == architecture) return head;
        return architecture switch
        {
            "DebertaV2ForPreTraining" or "DebertaForPreTraining" => HeadKind.MaskedLM,
            _ => null,
        };
    }
}
