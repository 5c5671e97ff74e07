using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Zero-shot classification through a natural-language-inference model (HF's <c>zero-shot-classification</c>):
/// each candidate label becomes the hypothesis "This example is {label}." for the text as premise, and the NLI
/// model's entailment logit scores the label. The entailment class is the <c>label2id</c> entry whose name starts with
/// "entail"; the contradiction class the one starting with "contradict", else HF's rule (class 0, or the last class
/// when entailment is 0). Texts too long for <see cref="Pipeline.EffectiveMaxLength"/> are truncated, never the hypothesis.
/// </summary>
/// <example>
/// <code>
/// using var zeroShot = ZeroShotClassificationPipeline.FromPretrained("path/to/deberta-v3-base-mnli");
/// ZeroShotResult r = zeroShot.Classify("The new phone lasts two days on a charge.", ["technology", "sports", "politics"]);
/// Console.WriteLine(r.Labels[0].Label);
/// </code>
/// </example>
public sealed class ZeroShotClassificationPipeline : Pipeline
{
    /// <summary>Wraps an NLI sequence-classification model and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">A <see cref="DebertaForSequenceClassification"/> trained on NLI.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="DebertaConfigurationException">Another head, fewer than 2 classes, or no entailment label in <c>label2id</c>.</exception>
    public ZeroShotClassificationPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private ZeroShotClassificationPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, HeadKind.SequenceClassification, "zero-shot classification", ownsModel)
    {
        var label2id = model.Config.Label2Id;
        string names = string.Join(", ", label2id.Keys);
        if (model.Config.NumLabels < 2)
        {
            throw new DebertaConfigurationException(
                $"Zero-shot classification needs an NLI model with entailment and contradiction classes; this one has {model.Config.NumLabels} label ({names}).");
        }

        EntailmentId = Find(label2id, "entail") ?? throw new DebertaConfigurationException(
            $"No entailment class in the model's label2id ({names}): zero-shot classification needs an NLI checkpoint whose " +
            "label2id names a label starting with 'entail' (e.g. {\"contradiction\": 0, \"neutral\": 1, \"entailment\": 2}).");
        ContradictionId = Find(label2id, "contradict") ?? (EntailmentId == 0 ? model.Config.NumLabels - 1 : 0);
    }

    /// <summary>Loads an NLI model and its tokenizer from a checkpoint folder.</summary>
    /// <param name="folder">Checkpoint folder: config.json (with NLI label2id), weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, another head, or no entailment label.</exception>
    public static ZeroShotClassificationPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype);
        try
        {
            return new ZeroShotClassificationPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The class id of entailment (from <c>label2id</c>).</summary>
    public int EntailmentId { get; }

    /// <summary>The class id of contradiction, used with <see cref="ZeroShotOptions.MultiLabel"/> or a single candidate.</summary>
    public int ContradictionId { get; }

    /// <summary>Splits a comma-separated label list, as HF does for a string: trimmed, empty entries dropped.</summary>
    /// <param name="labels">E.g. <c>"sports, politics,tech"</c>.</param>
    /// <returns>The labels in order.</returns>
    public static IReadOnlyList<string> ParseLabels(string labels) =>
        (labels ?? "").Split(',').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();

    /// <summary>Scores the candidate labels for one text.</summary>
    /// <param name="sequence">The text to classify.</param>
    /// <param name="candidateLabels">The labels to choose from.</param>
    /// <param name="options">Template and multi-label; <c>null</c> for the defaults.</param>
    /// <returns>Every label with its score, best first.</returns>
    /// <exception cref="DebertaInputException">Empty text, no labels, an empty label, or a template without <c>{}</c>.</exception>
    public ZeroShotResult Classify(string sequence, IReadOnlyList<string> candidateLabels, ZeroShotOptions? options = null) =>
        Classify([sequence], candidateLabels, options)[0];

    /// <summary>Scores the candidate labels for several texts; all (text, label) pairs are batched by <see cref="Pipeline.BatchSize"/>.</summary>
    /// <param name="sequences">The texts to classify.</param>
    /// <param name="candidateLabels">The labels to choose from, the same for every text.</param>
    /// <param name="options">Template and multi-label; <c>null</c> for the defaults.</param>
    /// <returns>Per text, every label with its score, best first.</returns>
    /// <exception cref="DebertaInputException">An empty text, no labels, an empty label, or a template without <c>{}</c>.</exception>
    public IReadOnlyList<ZeroShotResult> Classify(IReadOnlyList<string> sequences, IReadOnlyList<string> candidateLabels, ZeroShotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= ZeroShotOptions.Default;
        if (candidateLabels is null || candidateLabels.Count == 0)
        {
            throw new DebertaInputException("No candidate labels: give at least one label to score.");
        }

        for (int j = 0; j < candidateLabels.Count; j++)
        {
            if (string.IsNullOrWhiteSpace(candidateLabels[j]))
            {
                throw new DebertaInputException($"Candidate label {j} is empty.");
            }
        }

        string template = options.HypothesisTemplate ?? "";
        if (!template.Contains("{}", StringComparison.Ordinal))
        {
            throw new DebertaInputException(
                $"The hypothesis template '{template}' has no {{}} where the label goes (e.g. '{ZeroShotOptions.DefaultHypothesisTemplate}').");
        }

        if (sequences.Count == 0)
        {
            throw new DebertaInputException("No sequences to classify.");
        }

        int n = candidateLabels.Count;
        var encodings = new TokenEncoding[sequences.Count * n];
        var encode = new EncodeOptions { MaxLength = EffectiveMaxLength, Truncation = TruncationStrategy.OnlyFirst };
        for (int i = 0; i < sequences.Count; i++)
        {
            string sequence = RequireText(sequences[i], sequences.Count == 1 ? "sequence" : $"sequence {i}");
            for (int j = 0; j < n; j++)
            {
                string hypothesis = template.Replace("{}", candidateLabels[j], StringComparison.Ordinal);
                TokenEncoding e = Tokenizer.Encode(sequence, hypothesis, encode);
                if (e.Length > EffectiveMaxLength)
                {
                    throw new DebertaInputException(
                        $"The hypothesis for label '{candidateLabels[j]}' leaves no room for the text within {EffectiveMaxLength} tokens; shorten the template or the label.");
                }

                encodings[(i * n) + j] = e;
            }
        }

        float[][] logits = ForwardRows(encodings, perToken: false, o => o.Logits!)[0];   // [sequence·label][classes]
        var results = new ZeroShotResult[sequences.Count];
        for (int i = 0; i < sequences.Count; i++)
        {
            double[] scores = Score(logits.AsSpan(i * n, n), options.MultiLabel);
            results[i] = new ZeroShotResult(
                sequences[i],
                Enumerable.Range(0, n).OrderByDescending(j => scores[j]).Select(j => new LabelScore(candidateLabels[j], (float)scores[j])).ToList());
        }

        return results;
    }

    /// <summary>
    /// HF's scores: one label or multi-label → per label softmax over (contradiction, entailment), entailment's share;
    /// otherwise softmax of the entailment logits over the labels.
    /// </summary>
    private double[] Score(ReadOnlySpan<float[]> logits, bool multiLabel)
    {
        var scores = new double[logits.Length];
        if (multiLabel || logits.Length == 1)
        {
            for (int j = 0; j < logits.Length; j++)
            {
                scores[j] = Probabilities.Softmax([logits[j][ContradictionId], logits[j][EntailmentId]])[1];
            }

            return scores;
        }

        var entail = new float[logits.Length];
        for (int j = 0; j < logits.Length; j++)
        {
            entail[j] = logits[j][EntailmentId];
        }

        return Probabilities.Softmax(entail);
    }

    /// <summary>The lowest class id whose <c>label2id</c> name starts with <paramref name="prefix"/> (case-insensitive); <c>null</c> when none does.</summary>
    internal static int? Find(IReadOnlyDictionary<string, int> label2id, string prefix)
    {
        foreach (var (label, id) in label2id.OrderBy(kv => kv.Value))
        {
            if (label.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return id;
            }
        }

        return null;
    }
}
