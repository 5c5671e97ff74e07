using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>How <see cref="SentenceEmbeddingPipeline"/> pools; unset values come from the sentence-transformers folder.</summary>
public sealed record SentenceEmbeddingOptions
{
    /// <summary>The pooling; <c>null</c> takes the folder's <c>1_Pooling/config.json</c>, or <see cref="PoolingMode.Mean"/> for a plain checkpoint.</summary>
    public PoolingMode? Pooling { get; init; }

    /// <summary>Whether to L2-normalise; <c>null</c> takes the folder's <c>2_Normalize</c> module (absent: no).</summary>
    public bool? Normalize { get; init; }
}

/// <summary>
/// Sentence vectors with sentence-transformers semantics: the encoder's last hidden state pooled over the
/// attention-mask-valid tokens (<see cref="PoolingMode"/>), optionally L2-normalised. Reads a sentence-transformers
/// folder (<c>modules.json</c>, <c>1_Pooling/config.json</c>, <c>2_Normalize</c>, <c>sentence_bert_config.json</c>'s
/// <c>max_seq_length</c> as <see cref="Pipeline.MaxLength"/>) or pools a plain checkpoint as told.
/// </summary>
/// <example>
/// <code>
/// using var embedder = SentenceEmbeddingPipeline.FromPretrained("path/to/sentence-transformers-folder");
/// float[][] vectors = embedder.Embed(["A sentence.", "Another one."]);
/// </code>
/// </example>
public sealed class SentenceEmbeddingPipeline : Pipeline
{
    /// <summary>Wraps a model (any head; only the encoder is read) and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">The model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="pooling">The pooling modes (default mean).</param>
    /// <param name="normalize">Whether vectors are L2-normalised.</param>
    /// <exception cref="DebertaConfigurationException">A tokenizer larger than the vocabulary.</exception>
    /// <exception cref="DebertaInputException">An undefined pooling mode.</exception>
    public SentenceEmbeddingPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, PoolingMode pooling = PoolingMode.Mean, bool normalize = false)
        : this(model, tokenizer, pooling, normalize, ownsModel: false)
    {
    }

    private SentenceEmbeddingPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, PoolingMode pooling, bool normalize, bool ownsModel)
        : base(model, tokenizer, head: null, "sentence embedding", ownsModel)
    {
        Dimension = SentencePooling.Count(pooling) * model.Config.HiddenSize;
        Pooling = pooling;
        Normalize = normalize;
    }

    /// <summary>The pooling modes.</summary>
    public PoolingMode Pooling { get; }

    /// <summary>Whether vectors are L2-normalised.</summary>
    public bool Normalize { get; }

    /// <summary>Length of each sentence vector: hidden size × number of pooling modes.</summary>
    public int Dimension { get; }

    /// <summary>
    /// Loads a sentence-transformers folder (with <c>modules.json</c>) or a plain checkpoint folder; the encoder only.
    /// </summary>
    /// <param name="folder">The folder, or a Hugging Face Hub repo id (fetched with its sentence-transformers files, see <see cref="Hub.PretrainedFiles.SentenceTransformer"/>).</param>
    /// <param name="options">Overrides of pooling and normalisation; <c>null</c> takes the folder's (plain checkpoint: mean, not normalised).</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, or a sentence-transformers module DebertaSharp does not run.</exception>
    public static SentenceEmbeddingPipeline FromPretrained(string folder, SentenceEmbeddingOptions? options = null, Device? device = null, ScalarType? dtype = null)
    {
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.All | Hub.PretrainedFiles.SentenceTransformer);
        SentenceTransformerConfig? st = SentenceTransformerConfig.IsSentenceTransformer(folder) ? SentenceTransformerConfig.Read(folder) : null;
        PoolingMode pooling = options?.Pooling ?? st?.Pooling ?? PoolingMode.Mean;
        SentencePooling.Count(pooling);                                   // a bad mode fails before loading
        var (model, tokenizer) = Load(st?.ModelFolder ?? folder, device, dtype, HeadKind.Base);
        try
        {
            return new SentenceEmbeddingPipeline(model, tokenizer, pooling, options?.Normalize ?? st?.Normalize ?? false, ownsModel: true)
            {
                MaxLength = st?.MaxSeqLength,
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The vector of one text.</summary>
    /// <exception cref="DebertaInputException">An empty text.</exception>
    public float[] Embed(string text) => Embed([text])[0];

    /// <summary>The vectors of several texts (each <see cref="Dimension"/> long), <see cref="Pipeline.BatchSize"/> per forward pass, in input order.</summary>
    /// <exception cref="DebertaInputException">An empty text.</exception>
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var encode = new EncodeOptions { MaxLength = EffectiveMaxLength, Truncation = TruncationStrategy.LongestFirst };
        var encodings = new TokenEncoding[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            encodings[i] = Tokenizer.Encode(RequireText(texts[i], texts.Count == 1 ? "text" : $"text {i}"), encode);
        }

        return ForwardRows(encodings, perToken: false, BatchSize, (output, inputs) =>
        {
            Tensor vectors = SentencePooling.Pool(output.LastHiddenState, inputs.AttentionMask!, Pooling);   // [B, D]
            return Normalize ? SentencePooling.Normalize(vectors) : vectors;
        })[0];
    }
}
