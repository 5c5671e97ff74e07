using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DebertaSharp.IO;

namespace DebertaSharp.Configuration;

/// <summary>Which DeBERTa generation a configuration describes (HF <c>model_type</c>).</summary>
public enum DebertaModelType
{
    /// <summary><c>deberta</c>: DeBERTa v1 (fused <c>in_proj</c>, no position buckets).</summary>
    Deberta,

    /// <summary><c>deberta-v2</c>: DeBERTa v2 and v3, mDeBERTa (separate projections, buckets, conv layer).</summary>
    DebertaV2,
}

/// <summary>
/// The configuration of a DeBERTa model, read from and written to HuggingFace <c>config.json</c>
/// (<c>model_type</c> <c>deberta</c> or <c>deberta-v2</c>). Every property carries HuggingFace's default.
/// Fields DebertaSharp does not interpret (generation settings, <c>_name_or_path</c>, …) are kept and written back.
/// </summary>
public sealed class DebertaConfig
{
    private static readonly HashSet<string> KnownActivations = new(StringComparer.Ordinal)
    {
        "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu", "relu", "silu", "swish", "tanh", "sigmoid", "linear",
    };

    // Raw JSON of the source file: unknown keys are written back, and known keys keep their original spelling
    // (e.g. pos_att_type "c2p|p2c") when their value is unchanged.
    private JsonObject _source = new();

    /// <summary>HF <c>model_type</c>.</summary>
    public DebertaModelType ModelType { get; set; } = DebertaModelType.DebertaV2;

    /// <summary>Rows of the word-embedding table (<c>vocab_size</c>; may exceed the tokenizer's size).</summary>
    public int VocabSize { get; set; } = 128100;

    /// <summary>Width of the encoder (<c>hidden_size</c>).</summary>
    public int HiddenSize { get; set; } = 1536;

    /// <summary>Number of encoder layers (<c>num_hidden_layers</c>).</summary>
    public int NumHiddenLayers { get; set; } = 24;

    /// <summary>Attention heads per layer (<c>num_attention_heads</c>).</summary>
    public int NumAttentionHeads { get; set; } = 24;

    /// <summary>Width of the feed-forward layer (<c>intermediate_size</c>).</summary>
    public int IntermediateSize { get; set; } = 6144;

    /// <summary>Feed-forward activation (<c>hidden_act</c>).</summary>
    public string HiddenAct { get; set; } = "gelu";

    /// <summary>Dropout after embeddings and sub-layers (<c>hidden_dropout_prob</c>).</summary>
    public double HiddenDropoutProb { get; set; } = 0.1;

    /// <summary>Dropout on attention probabilities (<c>attention_probs_dropout_prob</c>).</summary>
    public double AttentionProbsDropoutProb { get; set; } = 0.1;

    /// <summary>Rows of the absolute position table (<c>max_position_embeddings</c>).</summary>
    public int MaxPositionEmbeddings { get; set; } = 512;

    /// <summary>Token-type (segment) vocabulary; 0 means no token-type embedding (<c>type_vocab_size</c>).</summary>
    public int TypeVocabSize { get; set; }

    /// <summary>Standard deviation of the normal initialiser (<c>initializer_range</c>).</summary>
    public double InitializerRange { get; set; } = 0.02;

    /// <summary>Epsilon of every LayerNorm (<c>layer_norm_eps</c>).</summary>
    public double LayerNormEps { get; set; } = 1e-7;

    /// <summary>Whether disentangled relative attention is used (<c>relative_attention</c>).</summary>
    public bool RelativeAttention { get; set; }

    /// <summary>Relative distance range; values below 1 mean <see cref="MaxPositionEmbeddings"/> (<c>max_relative_positions</c>).</summary>
    public int MaxRelativePositions { get; set; } = -1;

    /// <summary>Padding token id; its embedding row is zero at initialisation (<c>pad_token_id</c>).</summary>
    public int PadTokenId { get; set; }

    /// <summary>Whether absolute position embeddings are added to the input (<c>position_biased_input</c>).</summary>
    public bool PositionBiasedInput { get; set; } = true;

    /// <summary>Position attention terms: any of <c>c2p</c> and <c>p2c</c> (<c>pos_att_type</c>, list or <c>"c2p|p2c"</c>).</summary>
    public IReadOnlyList<string> PosAttType { get; set; } = [];

    /// <summary>Dropout of the context pooler (<c>pooler_dropout</c>).</summary>
    public double PoolerDropout { get; set; }

    /// <summary>Activation of the context pooler (<c>pooler_hidden_act</c>).</summary>
    public string PoolerHiddenAct { get; set; } = "gelu";

    /// <summary>Width of the context pooler; <c>null</c> means <see cref="HiddenSize"/> (<c>pooler_hidden_size</c>).</summary>
    public int? PoolerHiddenSize { get; set; }

    /// <summary>Width of the embeddings; <c>null</c> means <see cref="HiddenSize"/> (<c>embedding_size</c>).</summary>
    public int? EmbeddingSize { get; set; }

    /// <summary>Log-bucket count for relative positions; -1 disables bucketing (<c>position_buckets</c>, v2).</summary>
    public int PositionBuckets { get; set; } = -1;

    /// <summary>Whether positional keys/queries reuse the content projections (<c>share_att_key</c>, v2).</summary>
    public bool ShareAttKey { get; set; }

    /// <summary>Normalisation of the relative embeddings: <c>none</c> or <c>layer_norm</c> (<c>norm_rel_ebd</c>, v2).</summary>
    public string NormRelEbd { get; set; } = "none";

    /// <summary>Kernel of the convolution after layer 0; 0 disables it (<c>conv_kernel_size</c>, v2).</summary>
    public int ConvKernelSize { get; set; }

    /// <summary>Groups of that convolution (<c>conv_groups</c>).</summary>
    public int ConvGroups { get; set; } = 1;

    /// <summary>Activation of that convolution (<c>conv_act</c>).</summary>
    public string ConvAct { get; set; } = "tanh";

    /// <summary>Talking-heads attention (<c>talking_head</c>, v1).</summary>
    public bool TalkingHead { get; set; }

    /// <summary>Per-head width; <c>null</c> means hidden / heads (<c>attention_head_size</c>, v2).</summary>
    public int? AttentionHeadSize { get; set; }

    /// <summary>Dropout before classification heads; <c>null</c> means <see cref="HiddenDropoutProb"/> (<c>cls_dropout</c>).</summary>
    public double? ClsDropout { get; set; }

    /// <summary>Label names by class index (<c>id2label</c>); its count is the number of labels.</summary>
    public IReadOnlyDictionary<int, string> Id2Label { get; set; } = DefaultId2Label(2);

    /// <summary>Class index by label name (<c>label2id</c>).</summary>
    public IReadOnlyDictionary<string, int> Label2Id { get; set; } = DefaultLabel2Id(2);

    /// <summary><c>regression</c>, <c>single_label_classification</c>, <c>multi_label_classification</c> or <c>null</c> (<c>problem_type</c>).</summary>
    public string? ProblemType { get; set; }

    /// <summary>HF architecture names (<c>architectures</c>), e.g. <c>DebertaV2ForMaskedLM</c>.</summary>
    public IReadOnlyList<string>? Architectures { get; set; }

    /// <summary>Storage dtype recorded by HF (<c>torch_dtype</c>), e.g. <c>float32</c>.</summary>
    public string? TorchDtype { get; set; }

    /// <summary>Legacy MLM head naming <c>cls.predictions.*</c> (true) or <c>lm_predictions.lm_head.*</c> (false) (<c>legacy</c>).</summary>
    public bool Legacy { get; set; } = true;

    /// <summary>Whether the MLM decoder shares the word-embedding matrix (<c>tie_word_embeddings</c>).</summary>
    public bool TieWordEmbeddings { get; set; } = true;

    /// <summary>Number of labels of classification heads (the size of <see cref="Id2Label"/>).</summary>
    public int NumLabels => Id2Label.Count;

    /// <summary>Effective embedding width.</summary>
    public int EffectiveEmbeddingSize => EmbeddingSize ?? HiddenSize;

    /// <summary>Effective pooler width.</summary>
    public int EffectivePoolerHiddenSize => PoolerHiddenSize ?? HiddenSize;

    /// <summary>Effective per-head width.</summary>
    public int HeadSize => AttentionHeadSize ?? HiddenSize / NumAttentionHeads;

    /// <summary>Effective relative distance range (<see cref="MaxRelativePositions"/>, or the position table size when below 1).</summary>
    public int EffectiveMaxRelativePositions => MaxRelativePositions < 1 ? MaxPositionEmbeddings : MaxRelativePositions;

    /// <summary>Half the number of relative-embedding rows: buckets if bucketing, else the distance range.</summary>
    public int PositionEmbeddingSpan =>
        ModelType == DebertaModelType.DebertaV2 && PositionBuckets > 0 ? PositionBuckets : EffectiveMaxRelativePositions;

    /// <summary>Whether the c2p term is on.</summary>
    public bool UsesC2P => PosAttType.Contains("c2p");

    /// <summary>Whether the p2c term is on.</summary>
    public bool UsesP2C => PosAttType.Contains("p2c");

    /// <summary>Whether the relative embeddings pass through <c>encoder.LayerNorm</c>.</summary>
    public bool NormalizesRelativeEmbeddings =>
        NormRelEbd.Split('|').Select(s => s.Trim().ToLowerInvariant()).Contains("layer_norm");

    /// <summary>Creates a number-of-labels default map, <c>LABEL_0 … LABEL_{n-1}</c>.</summary>
    public static IReadOnlyDictionary<int, string> DefaultId2Label(int numLabels) =>
        Enumerable.Range(0, numLabels).ToDictionary(i => i, i => $"LABEL_{i}");

    private static IReadOnlyDictionary<string, int> DefaultLabel2Id(int numLabels) =>
        Enumerable.Range(0, numLabels).ToDictionary(i => $"LABEL_{i}", i => i);

    /// <summary>
    /// Upper bounds <see cref="Validate"/> enforces, far above every published DeBERTa (mDeBERTa's 251,000-piece
    /// vocabulary, xxlarge's 1,536 × 48 layers, 6,144-wide FFN) and low enough that a damaged or mistyped
    /// <c>config.json</c> is refused by name before anything is allocated, instead of asking libtorch for terabytes.
    /// </summary>
    public static class Limits
    {
        /// <summary><c>vocab_size</c> ≤ 2^24.</summary>
        public const int VocabSize = 1 << 24;

        /// <summary><c>hidden_size</c>, <c>embedding_size</c>, <c>pooler_hidden_size</c>, <c>attention_head_size</c> ≤ 16,384.</summary>
        public const int Width = 16_384;

        /// <summary><c>intermediate_size</c> ≤ 65,536.</summary>
        public const int IntermediateSize = 65_536;

        /// <summary><c>num_hidden_layers</c> ≤ 512.</summary>
        public const int Layers = 512;

        /// <summary><c>num_attention_heads</c> ≤ 1,024.</summary>
        public const int Heads = 1_024;

        /// <summary><c>type_vocab_size</c> ≤ 1,024.</summary>
        public const int TypeVocabSize = 1_024;

        /// <summary><c>max_position_embeddings</c>, <c>max_relative_positions</c> ≤ 2^20.</summary>
        public const int Positions = 1 << 20;

        /// <summary><c>position_buckets</c> ≤ 2^16 (the relative table has twice as many rows).</summary>
        public const int PositionBuckets = 1 << 16;

        /// <summary><c>num_labels</c> / <c>id2label</c> entries ≤ 1,000,000.</summary>
        public const int Labels = 1_000_000;

        /// <summary><c>conv_kernel_size</c> ≤ 1,023.</summary>
        public const int ConvKernelSize = 1_023;
    }

    /// <summary>Sets <see cref="Id2Label"/> and <see cref="Label2Id"/> to <c>LABEL_0 … LABEL_{n-1}</c>.</summary>
    public void SetNumLabels(int numLabels)
    {
        if (numLabels < 1) throw new DebertaConfigurationException($"num_labels must be at least 1, got {numLabels}.");
        if (numLabels > Limits.Labels) throw new DebertaConfigurationException($"num_labels {numLabels} is above the limit of {Limits.Labels}.");
        Id2Label = DefaultId2Label(numLabels);
        Label2Id = DefaultLabel2Id(numLabels);
    }

    /// <summary>Sets the labels by name, in class-index order.</summary>
    public void SetLabels(IEnumerable<string> labels)
    {
        var list = labels.ToList();
        if (list.Count == 0) throw new DebertaConfigurationException("At least one label is required.");
        var dup = list.GroupBy(l => l).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new DebertaConfigurationException($"Label '{dup.Key}' appears more than once.");
        Id2Label = list.Select((l, i) => (l, i)).ToDictionary(p => p.i, p => p.l);
        Label2Id = list.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
    }

    /// <summary>Returns a deep copy.</summary>
    public DebertaConfig Clone() => Parse(ToJson(), "<clone>");

    /// <summary>
    /// Reads <c>config.json</c> of a checkpoint, as HF's <c>AutoConfig.from_pretrained</c>: a local folder, or a hub
    /// repository id (fetched into or read from the hub cache, config only).
    /// </summary>
    /// <param name="folder">A checkpoint folder or a hub repository id.</param>
    /// <exception cref="DebertaConfigurationException">No <c>config.json</c> in the folder, malformed JSON, unknown <c>model_type</c> or inconsistent values.</exception>
    public static DebertaConfig FromPretrained(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.Config);
        string path = Path.Combine(folder, "config.json");
        if (!Directory.Exists(folder) || !File.Exists(path))
            throw new DebertaConfigurationException($"No config.json at '{path}'.");
        return FromJsonFile(path);
    }

    /// <summary>Reads a configuration JSON file (a <c>config.json</c> under any name).</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="DebertaConfigurationException">Missing file (or a folder: use <see cref="FromPretrained"/>), malformed JSON, unknown <c>model_type</c> or inconsistent values.</exception>
    public static DebertaConfig FromJsonFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new DebertaConfigurationException($"'{path}' is a folder; DebertaConfig.FromPretrained reads the config.json inside it.");
        if (!File.Exists(path))
            throw new DebertaConfigurationException($"No config file at '{path}'.");
        return Parse(StrictJson.ReadFile(path, MaxConfigBytes, ConfigError), path);
    }

    /// <summary>The largest <c>config.json</c> accepted (16 MiB; real ones have a few kilobytes, a large id2label a few hundred).</summary>
    public const long MaxConfigBytes = 16L << 20;

    private static DebertaConfigurationException ConfigError(string message, Exception inner) =>
        new DebertaConfigurationException(message, inner);

    /// <summary>Parses the JSON text of a <c>config.json</c>; <paramref name="source"/> names it in errors.</summary>
    public static DebertaConfig Parse(string json, string source = "config.json") =>
        Parse(StrictJson.Encode(json, source, ConfigError), source);

    /// <summary>
    /// Parses the UTF-8 bytes of a <c>config.json</c> (strictly, see <see cref="StrictJson"/>: a key given twice is an
    /// error naming it); <paramref name="source"/> names it in errors.
    /// </summary>
    private static DebertaConfig Parse(byte[] utf8, string source)
    {
        // Trailing commas stay tolerated, as before; comments were never accepted.
        JsonObject obj = StrictJson.ParseNode(utf8, source, ConfigError, lenient: true, comments: false) as JsonObject
                         ?? throw new DebertaConfigurationException($"{source}: the top level must be a JSON object.");

        var r = new Reader(obj, source);
        string modelType = r.String("model_type") ?? throw new DebertaConfigurationException(
            $"{source}: 'model_type' is missing; expected \"deberta\" or \"deberta-v2\".");
        var c = new DebertaConfig
        {
            _source = obj,
            ModelType = modelType switch
            {
                "deberta" => DebertaModelType.Deberta,
                "deberta-v2" => DebertaModelType.DebertaV2,
                _ => throw new DebertaConfigurationException(
                    $"{source}: model_type '{modelType}' is not a DeBERTa model; expected \"deberta\" or \"deberta-v2\"."),
            },
        };
        bool v1 = c.ModelType == DebertaModelType.Deberta;
        c.VocabSize = r.Int("vocab_size") ?? (v1 ? 50265 : 128100);
        c.HiddenSize = r.Int("hidden_size") ?? (v1 ? 768 : 1536);
        c.NumHiddenLayers = r.Int("num_hidden_layers") ?? (v1 ? 12 : 24);
        c.NumAttentionHeads = r.Int("num_attention_heads") ?? (v1 ? 12 : 24);
        c.IntermediateSize = r.Int("intermediate_size") ?? (v1 ? 3072 : 6144);
        c.HiddenAct = r.String("hidden_act") ?? "gelu";
        c.HiddenDropoutProb = r.Double("hidden_dropout_prob") ?? 0.1;
        c.AttentionProbsDropoutProb = r.Double("attention_probs_dropout_prob") ?? 0.1;
        c.MaxPositionEmbeddings = r.Int("max_position_embeddings") ?? 512;
        c.TypeVocabSize = r.Int("type_vocab_size") ?? 0;
        c.InitializerRange = r.Double("initializer_range") ?? 0.02;
        c.LayerNormEps = r.Double("layer_norm_eps") ?? 1e-7;
        c.RelativeAttention = r.Bool("relative_attention") ?? false;
        c.MaxRelativePositions = r.Int("max_relative_positions") ?? -1;
        c.PadTokenId = r.Int("pad_token_id") ?? 0;
        c.PositionBiasedInput = r.Bool("position_biased_input") ?? true;
        c.PosAttType = r.PosAttType("pos_att_type");
        c.PoolerDropout = r.Double("pooler_dropout") ?? 0;
        c.PoolerHiddenAct = r.String("pooler_hidden_act") ?? "gelu";
        c.PoolerHiddenSize = r.Int("pooler_hidden_size");
        c.EmbeddingSize = r.Int("embedding_size");
        c.PositionBuckets = r.Int("position_buckets") ?? -1;
        c.ShareAttKey = r.Bool("share_att_key") ?? false;
        c.NormRelEbd = r.String("norm_rel_ebd") ?? "none";
        c.ConvKernelSize = r.Int("conv_kernel_size") ?? 0;
        c.ConvGroups = r.Int("conv_groups") ?? 1;
        c.ConvAct = r.String("conv_act") ?? "tanh";
        c.TalkingHead = r.Bool("talking_head") ?? false;
        c.AttentionHeadSize = r.Int("attention_head_size");
        c.ClsDropout = r.Double("cls_dropout");
        c.ProblemType = r.String("problem_type");
        c.Architectures = r.StringList("architectures");
        c.TorchDtype = r.String("torch_dtype");
        c.Legacy = r.Bool("legacy") ?? true;
        c.TieWordEmbeddings = r.Bool("tie_word_embeddings") ?? true;
        (c.Id2Label, c.Label2Id) = r.Labels(r.Int("num_labels"));
        c.Validate(source);
        return c;
    }

    /// <summary>Checks the values for consistency; throws naming the first bad field.</summary>
    /// <exception cref="DebertaConfigurationException">A value is out of range or contradicts another.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string msg) => throw new DebertaConfigurationException($"{source}: {msg}");
        void Positive(string name, int value) { if (value < 1) Fail($"{name} must be positive, got {value}."); }

        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("intermediate_size", IntermediateSize);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        // Bounds before anything is built (see Limits); they also keep 2 × buckets and products of widths inside int.
        void AtMost(string name, long value, long limit) { if (value > limit) Fail($"{name} {value} is above the limit of {limit} (DebertaConfig.Limits)."); }
        AtMost("vocab_size", VocabSize, Limits.VocabSize);
        AtMost("hidden_size", HiddenSize, Limits.Width);
        AtMost("num_hidden_layers", NumHiddenLayers, Limits.Layers);
        AtMost("num_attention_heads", NumAttentionHeads, Limits.Heads);
        AtMost("intermediate_size", IntermediateSize, Limits.IntermediateSize);
        AtMost("max_position_embeddings", MaxPositionEmbeddings, Limits.Positions);
        AtMost("max_relative_positions", MaxRelativePositions, Limits.Positions);
        AtMost("position_buckets", PositionBuckets, Limits.PositionBuckets);
        AtMost("type_vocab_size", TypeVocabSize, Limits.TypeVocabSize);
        AtMost("embedding_size", EmbeddingSize ?? 0, Limits.Width);
        AtMost("pooler_hidden_size", PoolerHiddenSize ?? 0, Limits.Width);
        AtMost("attention_head_size", AttentionHeadSize ?? 0, Limits.Width);
        AtMost("conv_kernel_size", ConvKernelSize, Limits.ConvKernelSize);
        AtMost("num_labels", Id2Label.Count, Limits.Labels);
        if (AttentionHeadSize is { } ahsLimit) AtMost("attention_head_size × num_attention_heads", (long)ahsLimit * NumAttentionHeads, Limits.Width * 4L);
        if (EmbeddingSize is { } e) Positive("embedding_size", e);
        if (PoolerHiddenSize is { } p) Positive("pooler_hidden_size", p);
        if (AttentionHeadSize is { } h) Positive("attention_head_size", h);
        if (TypeVocabSize < 0) Fail($"type_vocab_size must be 0 or more, got {TypeVocabSize}.");
        if (PadTokenId < 0 || PadTokenId >= VocabSize) Fail($"pad_token_id {PadTokenId} is outside the vocabulary [0, {VocabSize}).");
        if (LayerNormEps <= 0) Fail($"layer_norm_eps must be positive, got {LayerNormEps}.");
        foreach (var (name, prob) in new[] { ("hidden_dropout_prob", HiddenDropoutProb), ("attention_probs_dropout_prob", AttentionProbsDropoutProb), ("pooler_dropout", PoolerDropout), ("cls_dropout", ClsDropout ?? 0) })
            if (prob < 0 || prob >= 1) Fail($"{name} must be in [0, 1), got {prob.ToString(CultureInfo.InvariantCulture)}.");
        if (AttentionHeadSize is null && HiddenSize % NumAttentionHeads != 0)
            Fail($"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}.");
        if (ModelType == DebertaModelType.Deberta && AttentionHeadSize is { } ahs && ahs * NumAttentionHeads != HiddenSize)
            Fail($"attention_head_size {ahs} × num_attention_heads {NumAttentionHeads} must equal hidden_size {HiddenSize} for model_type deberta.");
        foreach (var t in PosAttType)
            if (t != "c2p" && t != "p2c") Fail($"pos_att_type entry '{t}' is not supported; use \"c2p\" and/or \"p2c\".");
        if (PosAttType.Distinct().Count() != PosAttType.Count) Fail("pos_att_type lists an entry twice.");
        foreach (var (name, act) in new[] { ("hidden_act", HiddenAct), ("pooler_hidden_act", PoolerHiddenAct), ("conv_act", ConvAct) })
            if (!KnownActivations.Contains(act)) Fail($"{name} '{act}' is not a known activation ({string.Join(", ", KnownActivations)}).");
        foreach (var part in NormRelEbd.Split('|').Select(s => s.Trim().ToLowerInvariant()))
            if (part != "none" && part != "layer_norm") Fail($"norm_rel_ebd '{NormRelEbd}' is not supported; use \"none\" or \"layer_norm\".");
        if (ConvKernelSize < 0) Fail($"conv_kernel_size must be 0 or more, got {ConvKernelSize}.");
        if (ConvKernelSize > 0)
        {
            if (ConvKernelSize % 2 == 0) Fail($"conv_kernel_size {ConvKernelSize} must be odd so the output keeps the sequence length.");
            if (ConvGroups < 1 || HiddenSize % ConvGroups != 0) Fail($"conv_groups {ConvGroups} must divide hidden_size {HiddenSize}.");
        }
        if (ModelType == DebertaModelType.DebertaV2 && RelativeAttention && PositionBuckets > 0 && PositionBuckets < 2)
            Fail($"position_buckets must be at least 2 when bucketing, got {PositionBuckets}.");
        if (ModelType == DebertaModelType.DebertaV2 && RelativeAttention && PositionBuckets > 0 && EffectiveMaxRelativePositions <= PositionBuckets / 2 + 1)
            Fail($"max_relative_positions {EffectiveMaxRelativePositions} must exceed position_buckets/2 + 1 = {PositionBuckets / 2 + 1} for log bucketing.");
        if (ProblemType is not null and not ("regression" or "single_label_classification" or "multi_label_classification"))
            Fail($"problem_type '{ProblemType}' is not one of regression, single_label_classification, multi_label_classification.");
        if (Id2Label.Count == 0) Fail("id2label is empty.");
        if (!Enumerable.Range(0, Id2Label.Count).All(Id2Label.ContainsKey))
            Fail("id2label keys must be 0 … num_labels-1.");
        if (TorchDtype is not null and not ("float32" or "float16" or "bfloat16" or "float64"))
            Fail($"torch_dtype '{TorchDtype}' is not a floating-point dtype.");
    }

    /// <summary>Serialises as HF writes <c>config.json</c>: sorted keys, 2-space indent; unknown source keys preserved.</summary>
    public string ToJson()
    {
        var known = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["model_type"] = ModelType == DebertaModelType.Deberta ? "deberta" : "deberta-v2",
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["intermediate_size"] = IntermediateSize,
            ["hidden_act"] = HiddenAct,
            ["hidden_dropout_prob"] = HiddenDropoutProb,
            ["attention_probs_dropout_prob"] = AttentionProbsDropoutProb,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["type_vocab_size"] = TypeVocabSize,
            ["initializer_range"] = InitializerRange,
            ["layer_norm_eps"] = LayerNormEps,
            ["relative_attention"] = RelativeAttention,
            ["max_relative_positions"] = MaxRelativePositions,
            ["pad_token_id"] = PadTokenId,
            ["position_biased_input"] = PositionBiasedInput,
            ["pos_att_type"] = new JsonArray(PosAttType.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
            ["pooler_dropout"] = PoolerDropout,
            ["pooler_hidden_act"] = PoolerHiddenAct,
            ["pooler_hidden_size"] = EffectivePoolerHiddenSize,
        };
        // Optional fields: written when set, when the source had them, or when not at HF's default.
        void Optional(string key, JsonNode? value, bool isDefault)
        {
            if (!isDefault || _source.ContainsKey(key)) known[key] = value;
        }
        Optional("embedding_size", EmbeddingSize, EmbeddingSize is null);
        Optional("position_buckets", PositionBuckets, PositionBuckets == -1);
        Optional("share_att_key", ShareAttKey, !ShareAttKey);
        Optional("norm_rel_ebd", NormRelEbd, NormRelEbd == "none");
        Optional("conv_kernel_size", ConvKernelSize, ConvKernelSize == 0);
        Optional("conv_groups", ConvGroups, ConvGroups == 1);
        Optional("conv_act", ConvAct, ConvAct == "tanh");
        Optional("talking_head", TalkingHead, !TalkingHead);
        Optional("attention_head_size", AttentionHeadSize, AttentionHeadSize is null);
        Optional("cls_dropout", ClsDropout, ClsDropout is null);
        Optional("problem_type", ProblemType, ProblemType is null);
        Optional("architectures", Architectures is null ? null : new JsonArray(Architectures.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()), Architectures is null);
        Optional("torch_dtype", TorchDtype, TorchDtype is null);
        Optional("legacy", Legacy, Legacy);
        Optional("tie_word_embeddings", TieWordEmbeddings, TieWordEmbeddings);
        bool defaultLabels = Id2Label.Count == 2 && Id2Label.All(kv => kv.Value == $"LABEL_{kv.Key}")
                             && Label2Id.Count == 2 && Label2Id.All(kv => kv.Key == $"LABEL_{kv.Value}");
        var id2label = new JsonObject();
        foreach (var kv in Id2Label.OrderBy(kv => kv.Key)) id2label[kv.Key.ToString(CultureInfo.InvariantCulture)] = kv.Value;
        var label2id = new JsonObject();
        foreach (var kv in Label2Id.OrderBy(kv => kv.Key, StringComparer.Ordinal)) label2id[kv.Key] = kv.Value;
        Optional("id2label", id2label, defaultLabels);
        Optional("label2id", label2id, defaultLabels);

        var output = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (key, value) in _source)
            if (key != "num_labels") output[key] = value?.DeepClone();
        foreach (var (key, value) in known)
        {
            // Keep the source's spelling when it means the same (e.g. "c2p|p2c", 1e-07 vs 1E-07).
            if (_source.TryGetPropertyValue(key, out var original) && SameMeaning(key, original, value)) continue;
            output[key] = value;
        }
        var root = new JsonObject();
        foreach (var (key, value) in output) root[key] = value;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Writes <c>config.json</c> into <paramref name="folder"/> atomically.</summary>
    /// <exception cref="DebertaConfigurationException">The file cannot be written; the message names it.</exception>
    public void Save(string folder) => Save(folder, ConfigError);

    /// <summary>Writes <c>config.json</c> into <paramref name="folder"/> atomically, failing with <paramref name="error"/>'s exception (a model save's checkpoint error).</summary>
    internal void Save(string folder, StrictJson.ErrorFactory error)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), ToJson(), error);
    }

    private static bool SameMeaning(string key, JsonNode? original, JsonNode? value)
    {
        if (original is null || value is null) return original is null && value is null;
        if (key == "pos_att_type")
        {
            try { return new Reader(new JsonObject { [key] = original.DeepClone() }, "").PosAttType(key).SequenceEqual(value.AsArray().Select(n => n!.GetValue<string>())); }
            catch (DebertaConfigurationException) { return false; }
        }
        if (original is JsonValue ov && value is JsonValue vv && ov.TryGetValue<double>(out var od) && vv.TryGetValue<double>(out var vd))
            return od.Equals(vd);
        return JsonNode.DeepEquals(original, value);
    }

    /// <summary>Typed access to config.json values with errors that name the key.</summary>
    private sealed class Reader(JsonObject obj, string source)
    {
        private JsonNode? Get(string key) => obj.TryGetPropertyValue(key, out var n) ? n : null;

        private DebertaConfigurationException Bad(string key, string expected) =>
            new($"{source}: '{key}' must be {expected}, got {Get(key)?.ToJsonString() ?? "null"}.");

        public string? String(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => throw Bad(key, "a string"),
        };

        public bool? Bool(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw Bad(key, "true or false"),
        };

        public double? Double(string key) => Get(key) switch
        {
            null => null,
            JsonValue v when v.TryGetValue<double>(out var d) => d,
            _ => throw Bad(key, "a number"),
        };

        public int? Int(string key)
        {
            var node = Get(key);
            if (node is null) return null;
            if (node is JsonValue v && v.TryGetValue<double>(out var d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
                return (int)d;
            throw Bad(key, "an integer");
        }

        public IReadOnlyList<string>? StringList(string key) => Get(key) switch
        {
            null => null,
            JsonArray a when a.All(n => n is JsonValue v && v.TryGetValue<string>(out _)) => a.Select(n => n!.GetValue<string>()).ToList(),
            _ => throw Bad(key, "a list of strings"),
        };

        public IReadOnlyList<string> PosAttType(string key) => Get(key) switch
        {
            null => [],
            JsonValue v when v.TryGetValue<string>(out var s) =>
                s.ToLowerInvariant().Split('|').Select(x => x.Trim()).Where(x => x.Length > 0).ToList(),
            JsonArray => StringList(key)!.Select(x => x.Trim().ToLowerInvariant()).ToList(),
            _ => throw Bad(key, "a list of strings or a \"c2p|p2c\" string"),
        };

        public (IReadOnlyDictionary<int, string>, IReadOnlyDictionary<string, int>) Labels(int? numLabels)
        {
            var id2labelNode = Get("id2label");
            if (id2labelNode is null)
            {
                int n = numLabels ?? 2;
                if (n < 1) throw Bad("num_labels", "a positive integer");
                if (n > Limits.Labels) throw new DebertaConfigurationException($"{source}: num_labels {n} is above the limit of {Limits.Labels} (DebertaConfig.Limits).");
                return (DefaultId2Label(n), DefaultLabel2Id(n));
            }
            if (id2labelNode is not JsonObject id2labelObj) throw Bad("id2label", "an object");
            var id2label = new Dictionary<int, string>();
            foreach (var (k, v) in id2labelObj)
            {
                if (!int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) || id < 0)
                    throw new DebertaConfigurationException($"{source}: id2label key '{k}' is not a non-negative integer.");
                if (id >= Limits.Labels)
                    throw new DebertaConfigurationException($"{source}: id2label key '{k}' is above the limit of {Limits.Labels} labels (DebertaConfig.Limits).");
                if (v is not JsonValue sv || !sv.TryGetValue<string>(out var name))
                    throw new DebertaConfigurationException($"{source}: id2label['{k}'] must be a string.");
                id2label[id] = name;
            }
            Dictionary<string, int> label2id;
            if (Get("label2id") is JsonObject l2i)
            {
                label2id = new Dictionary<string, int>();
                foreach (var (k, v) in l2i)
                {
                    if (v is not JsonValue iv || !iv.TryGetValue<int>(out var id))
                        throw new DebertaConfigurationException($"{source}: label2id['{k}'] must be an integer.");
                    label2id[k] = id;
                }
            }
            else
            {
                // Two ids with one name: as HF's PretrainedConfig, label2id keeps the last (highest) id for that name.
                label2id = new Dictionary<string, int>();
                foreach (var (id, name) in id2label.OrderBy(kv => kv.Key)) label2id[name] = id;
            }
            if (numLabels is { } nl && nl != id2label.Count)
                throw new DebertaConfigurationException($"{source}: num_labels {nl} disagrees with id2label, which has {id2label.Count} entries.");
            return (id2label, label2id);
        }
    }
}
