using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Classifies texts or text pairs with a sequence-classification model (HF's <c>text-classification</c> pipeline):
/// single-label (softmax), multi-label (sigmoid) or regression (raw value), label names from <c>id2label</c>.
/// Inputs longer than <see cref="Pipeline.EffectiveMaxLength"/> are truncated (longest sequence first).
/// </summary>
/// <example>
/// <code>
/// using var classifier = TextClassificationPipeline.FromPretrained("path/to/deberta-v3-sst2");
/// LabelScore best = classifier.Classify("A wonderful film.")[0];
/// </code>
/// </example>
public sealed class TextClassificationPipeline : Pipeline
{
    /// <summary>Wraps a sequence-classification model and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">A <see cref="DebertaForSequenceClassification"/>.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="DebertaConfigurationException">Another head, or a tokenizer larger than the vocabulary.</exception>
    public TextClassificationPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private TextClassificationPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, HeadKind.SequenceClassification, "text classification", ownsModel)
    {
    }

    /// <summary>Loads model and tokenizer from a checkpoint folder whose <c>architectures</c> is a sequence classifier.</summary>
    /// <param name="folder">Checkpoint folder: config.json, weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, or a checkpoint of another head.</exception>
    public static TextClassificationPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype);
        try
        {
            return new TextClassificationPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The function applied when <see cref="TextClassificationOptions.Function"/> is not set, HF's rule: none for
    /// <c>problem_type = regression</c>, sigmoid for <c>multi_label_classification</c> or a single label, softmax otherwise.
    /// </summary>
    public ClassificationFunction DefaultFunction => Model.Config.ProblemType switch
    {
        "regression" => ClassificationFunction.None,
        "multi_label_classification" => ClassificationFunction.Sigmoid,
        "single_label_classification" => ClassificationFunction.Softmax,
        _ => Model.Config.NumLabels == 1 ? ClassificationFunction.Sigmoid : ClassificationFunction.Softmax,
    };

    /// <summary>Classifies one text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="options">Top-k and function; <c>null</c> for the defaults (best label only).</param>
    /// <returns>Labels with scores, best first.</returns>
    /// <exception cref="DebertaInputException">Empty text or bad options.</exception>
    public IReadOnlyList<LabelScore> Classify(string text, TextClassificationOptions? options = null) => Classify([text], null, options)[0];

    /// <summary>Classifies one text pair (e.g. premise and hypothesis).</summary>
    /// <param name="text">The first text.</param>
    /// <param name="textPair">The second text.</param>
    /// <param name="options">Top-k and function; <c>null</c> for the defaults (best label only).</param>
    /// <returns>Labels with scores, best first.</returns>
    /// <exception cref="DebertaInputException">An empty text or bad options.</exception>
    public IReadOnlyList<LabelScore> Classify(string text, string textPair, TextClassificationOptions? options = null) =>
        Classify([text], [textPair], options)[0];

    /// <summary>Classifies several texts or pairs, <see cref="Pipeline.BatchSize"/> per forward pass.</summary>
    /// <param name="texts">The (first) texts.</param>
    /// <param name="textPairs">The second texts (same count, an entry may be null), or <c>null</c> for single texts.</param>
    /// <param name="options">Top-k and function; <c>null</c> for the defaults (best label only).</param>
    /// <returns>Per input, labels with scores, best first.</returns>
    /// <exception cref="DebertaInputException">An empty text, different counts, or bad options.</exception>
    public IReadOnlyList<IReadOnlyList<LabelScore>> Classify(
        IReadOnlyList<string> texts, IReadOnlyList<string?>? textPairs, TextClassificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= TextClassificationOptions.Default;
        if (options.TopK is < 1)
        {
            throw new DebertaInputException($"top_k must be at least 1 (or null for every label), got {options.TopK}.");
        }

        if (textPairs is not null && textPairs.Count != texts.Count)
        {
            throw new DebertaInputException($"Got {texts.Count} texts but {textPairs.Count} text pairs; the counts must match.");
        }

        var encodings = new TokenEncoding[texts.Count];
        var encode = new EncodeOptions { MaxLength = EffectiveMaxLength, Truncation = TruncationStrategy.LongestFirst };
        for (int i = 0; i < texts.Count; i++)
        {
            string text = RequireText(texts[i], texts.Count == 1 ? "text" : $"text {i}");
            string? pair = textPairs?[i] is { } p ? RequireText(p, texts.Count == 1 ? "text pair" : $"text pair {i}") : null;
            encodings[i] = Tokenizer.Encode(text, pair, encode);
        }

        float[][] logits = ForwardRows(encodings, perToken: false, o => o.Logits!)[0];
        ClassificationFunction function = options.Function ?? DefaultFunction;
        var results = new IReadOnlyList<LabelScore>[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            double[] scores = Apply(function, logits[i]);
            results[i] = Enumerable.Range(0, scores.Length)
                .OrderByDescending(k => scores[k])
                .Take(options.TopK ?? scores.Length)
                .Select(k => new LabelScore(LabelOf(k), (float)scores[k]))
                .ToList();
        }

        return results;
    }

    /// <summary>The chosen function over one row of logits, in double precision.</summary>
    internal static double[] Apply(ClassificationFunction function, float[] logits) => function switch
    {
        ClassificationFunction.Softmax => Probabilities.Softmax(logits),
        ClassificationFunction.Sigmoid => Probabilities.Sigmoid(logits),
        _ => Array.ConvertAll(logits, x => (double)x),
    };
}
