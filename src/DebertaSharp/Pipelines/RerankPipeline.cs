using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>Per-call settings of <see cref="RerankPipeline.Rerank"/>.</summary>
public sealed record RerankOptions
{
    /// <summary>The defaults: every document, the pipeline's batch size and length, sigmoid / class probability.</summary>
    public static RerankOptions Default { get; } = new();

    /// <summary>How many documents to return, best first; <c>null</c> (default) returns all.</summary>
    public int? TopK { get; init; }

    /// <summary>Pairs per forward pass; <c>null</c> uses <see cref="Pipeline.BatchSize"/>.</summary>
    public int? BatchSize { get; init; }

    /// <summary>Longest (query, document) pair, special tokens included; <c>null</c> uses <see cref="Pipeline.EffectiveMaxLength"/>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Score with the raw logit instead of the sigmoid (one label) or the class probability (several labels).</summary>
    public bool RawScores { get; init; }

    /// <summary>
    /// For a checkpoint with several labels, the <c>label2id</c> name of the class that means "relevant"; <c>null</c>
    /// takes the label starting with "entail" (NLI checkpoints). Ignored for one-label checkpoints.
    /// </summary>
    public string? Label { get; init; }
}

/// <summary>A document with its relevance score and its position in the input.</summary>
/// <param name="Index">The document's index in the list given to <see cref="RerankPipeline.Rerank"/>.</param>
/// <param name="Score">Its score (higher is more relevant).</param>
/// <param name="Text">The document.</param>
public sealed record RankedDocument(int Index, float Score, string Text);

/// <summary>
/// Cross-encoder reranking with sentence-transformers' <c>CrossEncoder</c> semantics: a sequence-classification model
/// reads each (query, document) pair; a one-label checkpoint scores with the sigmoid of its logit (or the raw logit),
/// a checkpoint with several labels (NLI-style) with the softmax probability of one class. Pairs longer than the
/// maximum length lose tokens from the document only (<c>only_second</c>), so the query is always read whole.
/// </summary>
/// <example>
/// <code>
/// using var reranker = RerankPipeline.FromPretrained("path/to/cross-encoder");
/// RankedDocument best = reranker.Rerank("capital of France", ["Paris is the capital.", "Berlin is big."])[0];
/// </code>
/// </example>
public sealed class RerankPipeline : Pipeline
{
    /// <summary>Wraps a sequence-classification model and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">A <see cref="DebertaForSequenceClassification"/> trained as a cross-encoder.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="DebertaConfigurationException">Another head, or a tokenizer larger than the vocabulary.</exception>
    public RerankPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private RerankPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, HeadKind.SequenceClassification, "rerank", ownsModel)
    {
    }

    /// <summary>Loads a cross-encoder checkpoint folder (a sequence classifier) and its tokenizer.</summary>
    /// <param name="folder">Checkpoint folder: config.json, weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, or a checkpoint of another head.</exception>
    public static RerankPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype);
        try
        {
            return new RerankPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Scores every document against <paramref name="query"/> and returns them best first (ties keep input order).</summary>
    /// <param name="query">The query; never truncated.</param>
    /// <param name="documents">The documents.</param>
    /// <param name="options">Top-k, batch size, length, score function; <c>null</c> for the defaults.</param>
    /// <returns>At most <see cref="RerankOptions.TopK"/> documents, best first, with their input index.</returns>
    /// <exception cref="DebertaInputException">An empty query or document, bad options, or a query too long to leave room for a document.</exception>
    /// <exception cref="DebertaConfigurationException">Several labels and no class named by <see cref="RerankOptions.Label"/> or starting with "entail".</exception>
    public IReadOnlyList<RankedDocument> Rerank(string query, IReadOnlyList<string> documents, RerankOptions? options = null)
    {
        options ??= RerankOptions.Default;
        if (options.TopK is < 1)
        {
            throw new DebertaInputException($"top_k must be at least 1 (or null for every document), got {options.TopK}.");
        }

        float[] scores = Score(query, documents, options);
        return Enumerable.Range(0, scores.Length)
            .OrderByDescending(i => scores[i])                  // stable: equal scores keep input order
            .Take(options.TopK ?? scores.Length)
            .Select(i => new RankedDocument(i, scores[i], documents[i]))
            .ToList();
    }

    /// <summary>The score of each document against <paramref name="query"/>, in input order (<see cref="Rerank"/>'s scores).</summary>
    /// <param name="query">The query; never truncated.</param>
    /// <param name="documents">The documents.</param>
    /// <param name="options">Batch size, length, score function; <c>null</c> for the defaults (top-k is not used).</param>
    /// <exception cref="DebertaInputException">An empty query or document, bad options, or a query too long to leave room for a document.</exception>
    /// <exception cref="DebertaConfigurationException">Several labels and no class to score with.</exception>
    public float[] Score(string query, IReadOnlyList<string> documents, RerankOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        options ??= RerankOptions.Default;
        RequireText(query, "query");
        if (documents.Count == 0)
        {
            throw new DebertaInputException("No documents to rerank.");
        }

        if (options.MaxLength is < 4 || options.BatchSize is < 1)
        {
            throw new DebertaInputException($"max_length must be at least 4 and batch_size at least 1; got {options.MaxLength} and {options.BatchSize}.");
        }

        int? classId = Model.Config.NumLabels == 1 ? null : ClassId(options.Label);
        int maxLength = options.MaxLength ?? EffectiveMaxLength;
        var encode = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.OnlySecond };
        var encodings = new TokenEncoding[documents.Count];
        for (int i = 0; i < documents.Count; i++)
        {
            encodings[i] = Tokenizer.Encode(query, RequireText(documents[i], $"document {i}"), encode);
            if (encodings[i].Length > maxLength)
            {
                throw new DebertaInputException(
                    $"The query is too long: with document {i} the pair has {encodings[i].Length} tokens > max length {maxLength}, and only the document may be truncated.");
            }
        }

        float[][] logits = ForwardRows(encodings, perToken: false, options.BatchSize ?? BatchSize, (o, _) => o.Logits!)[0];

        return [.. logits.Select(row => classId is int c
            ? options.RawScores ? row[c] : (float)Probabilities.Softmax(row)[c]
            : options.RawScores ? row[0] : (float)Probabilities.Sigmoid(row)[0])];
    }

    /// <summary>The class scored by a checkpoint with several labels: <paramref name="label"/> in <c>label2id</c>, else the "entail…" label.</summary>
    private int ClassId(string? label)
    {
        var label2id = Model.Config.Label2Id;
        string names = string.Join(", ", label2id.Keys);
        if (label is not null)
        {
            return label2id.TryGetValue(label, out int id)
                ? id
                : throw new DebertaConfigurationException($"Label '{label}' is not in the model's label2id ({names}).");
        }

        return ZeroShotClassificationPipeline.Find(label2id, "entail") ?? throw new DebertaConfigurationException(
            $"The model has {Model.Config.NumLabels} labels ({names}) and none starts with 'entail': name the class that means relevant (RerankOptions.Label, --label).");
    }
}
