using System.Globalization;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Metrics;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>How to read a text-classification or text-pair (NLI) file.</summary>
public sealed record TextClassificationDatasetOptions
{
    /// <summary>Column of the (first) text.</summary>
    public string TextColumn { get; init; } = "text";

    /// <summary>Column of the second text of a pair (NLI hypothesis, paraphrase …); <c>null</c> for single texts.</summary>
    public string? PairColumn { get; init; }

    /// <summary>Column of the label.</summary>
    public string LabelColumn { get; init; } = "label";

    /// <summary>Label names in class order; <c>null</c> to take the distinct labels of the file (<see cref="LabelSet.Sorted"/>).</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Labels are numbers to regress on (one output, MSE loss) instead of classes.</summary>
    public bool Regression { get; init; }

    /// <summary>
    /// Each example has any number of labels (multi-hot targets, the head's BCE loss, <c>problem_type</c>
    /// <c>multi_label_classification</c>): the label field is a JSON list (<c>["a", "b"]</c>, in JSON lines or a cell)
    /// or names joined by <see cref="LabelDelimiter"/>; an empty field or list means no label.
    /// </summary>
    public bool MultiLabel { get; init; }

    /// <summary>What separates the labels of a multi-label field that is not a JSON list (default <c>,</c>).</summary>
    public string LabelDelimiter { get; init; } = ",";

    /// <summary>Tokens per example after truncation (longest-first for pairs), special tokens included.</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>The file format; <c>null</c> to go by the extension.</summary>
    public TabularFormat? Format { get; init; }
}

/// <summary>Single texts or text pairs with a class label (or a number, for regression), tokenised.</summary>
public sealed class TextClassificationDataset : FineTuningDataset
{
    private readonly int[][] _ids;
    private readonly int[][] _types;
    private readonly long[] _classes;
    private readonly float[] _values;
    private readonly float[][] _targets;

    private TextClassificationDataset(string source, int pad, TextClassificationDatasetOptions options, IReadOnlyList<string> labels,
        int[][] ids, int[][] types, long[] classes, float[] values, float[][] targets, IReadOnlyList<int> lines)
        : base(source, pad)
    {
        _targets = targets;
        Options = options;
        Labels = labels;
        _ids = ids;
        _types = types;
        _classes = classes;
        _values = values;
        Lines = lines;
    }

    /// <summary>The options the file was read with (<see cref="TextClassificationDatasetOptions.Labels"/> filled in).</summary>
    public TextClassificationDatasetOptions Options { get; }

    /// <summary>Label names by class index (empty for regression).</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Whether this is regression.</summary>
    public bool IsRegression => Options.Regression;

    /// <summary>Whether examples carry several labels each (<see cref="TextClassificationDatasetOptions.MultiLabel"/>).</summary>
    public bool IsMultiLabel => Options.MultiLabel;

    /// <summary>The multi-hot target of each example (multi-label only: 1 where the label applies, else 0).</summary>
    public IReadOnlyList<IReadOnlyList<float>> Targets => _targets;

    /// <summary>The file line of each example.</summary>
    public IReadOnlyList<int> Lines { get; }

    /// <summary>Class index of each example (classification only).</summary>
    public IReadOnlyList<long> ClassIndices => _classes;

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.SequenceClassification;

    /// <inheritdoc/>
    public override int Count => _ids.Length;

    /// <inheritdoc/>
    public override string DefaultMetric => IsRegression ? "pearson" : IsMultiLabel ? "f1_micro" : "accuracy";

    /// <summary>Reads and tokenises a CSV/TSV/JSON-lines file.</summary>
    /// <exception cref="DatasetException">The file is missing, empty or malformed, a column is missing, a label is not
    /// in <see cref="TextClassificationDatasetOptions.Labels"/>, or a regression label is not a number (file and line named).</exception>
    public static TextClassificationDataset Load(string path, DebertaTokenizerBase tokenizer, TextClassificationDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxLength < 3) throw new DatasetException($"max length must be at least 3 tokens, got {options.MaxLength}.");
        if (options.MultiLabel && options.Regression) throw new DatasetException("A data set is either multi-label or regression, not both.");
        if (options.MultiLabel && string.IsNullOrEmpty(options.LabelDelimiter)) throw new DatasetException("The multi-label delimiter is empty.");
        var data = TabularFile.Read(path, options.Format);
        data.RequireColumns(options.TextColumn, options.PairColumn, options.LabelColumn);

        var rawLabels = data.Records.Select(r => data.Field(r, options.LabelColumn).Trim()).ToList();
        var labelLists = options.MultiLabel
            ? data.Records.Select((r, i) => SplitLabels(rawLabels[i], options.LabelDelimiter, $"{path}:{r.Line}")).ToList()
            : null;
        IReadOnlyList<string> labels = options.Regression ? [] : options.Labels ?? LabelSet.Sorted(labelLists?.SelectMany(l => l) ?? rawLabels);
        if (!options.Regression && labels.Count == 0) throw new DatasetException($"'{path}' has no label in column '{options.LabelColumn}'.");
        var index = options.Regression ? [] : LabelSet.Index(labels, path);
        if (!options.Regression && !options.MultiLabel && labels.Count < 2 && options.Labels is null)
            throw new DatasetException($"'{path}' has only one label ('{labels[0]}') in column '{options.LabelColumn}'; classification needs at least two.");

        int n = data.Records.Count;
        var ids = new int[n][];
        var types = new int[n][];
        var classes = new long[n];
        var values = new float[n];
        var targets = new float[options.MultiLabel ? n : 0][];
        var encode = new EncodeOptions { MaxLength = options.MaxLength, Truncation = TruncationStrategy.LongestFirst };
        for (int i = 0; i < n; i++)
        {
            var record = data.Records[i];
            string label = rawLabels[i];
            if (options.Regression)
            {
                if (!float.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                    throw new DatasetException($"{path}:{record.Line}: regression label '{label}' is not a finite number.");
            }
            else if (labelLists is not null)
            {
                targets[i] = new float[labels.Count];
                foreach (string l in labelLists[i])
                    targets[i][index.TryGetValue(l, out int k) ? k : throw new DatasetException(LabelSet.NotInSet($"{path}:{record.Line}", l, labels))] = 1;
            }
            else if (index.TryGetValue(label, out int c)) classes[i] = c;
            else throw new DatasetException(LabelSet.NotInSet($"{path}:{record.Line}", label, labels));

            var encoding = tokenizer.Encode(data.Field(record, options.TextColumn),
                options.PairColumn is null ? null : data.Field(record, options.PairColumn), encode);
            ids[i] = [.. encoding.InputIds];
            types[i] = [.. encoding.TokenTypeIds];
        }
        return new TextClassificationDataset(path, tokenizer.PadTokenId, options with { Labels = labels }, labels,
            ids, types, classes, values, targets, data.Records.Select(r => r.Line).ToList());
    }

    // A multi-label field: a JSON list of strings, else names joined by the delimiter (trimmed, empty ones dropped).
    private static List<string> SplitLabels(string field, string delimiter, string where)
    {
        if (!field.StartsWith('[')) return [.. field.Split(delimiter, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];
        try
        {
            using var doc = StrictJson.Parse(StrictJson.Encode(field, where, LabelListError), where, LabelListError);
            return [.. doc.RootElement.EnumerateArray().Select(e => e.ValueKind is System.Text.Json.JsonValueKind.String or System.Text.Json.JsonValueKind.Number
                ? (e.ValueKind == System.Text.Json.JsonValueKind.String ? e.GetString()! : e.GetRawText()).Trim()
                : throw new DatasetException($"{where}: a label list may hold strings or numbers, got {e.ValueKind.ToString().ToLowerInvariant()}."))
                .Where(l => l.Length > 0)];
        }
        catch (DatasetException e) when (e.InnerException is System.Text.Json.JsonException or System.Text.EncoderFallbackException)
        {
            throw new DatasetException($"{where}: the label field starts with '[' but is not a JSON list ({e.Message}).", e);
        }
    }

    private static DebertaSharpException LabelListError(string message, Exception inner) => new DatasetException(message, inner);

    /// <inheritdoc/>
    public override int LengthOf(int index) => _ids[index].Length;

    /// <inheritdoc/>
    public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
    {
        var (ids, mask, types) = PadBatch(indices.Select(i => _ids[i]).ToList(), indices.Select(i => _types[i]).ToList(), device);
        var labels = IsRegression
            ? tensor(indices.Select(i => _values[i]).ToArray(), ScalarType.Float32, device)                // [B]
            : IsMultiLabel
                ? tensor(indices.SelectMany(i => _targets[i]).ToArray(), [indices.Count, Labels.Count], ScalarType.Float32, device)   // [B, labels]
                : tensor(indices.Select(i => _classes[i]).ToArray(), ScalarType.Int64, device);           // [B]
        return new DebertaInputs(ids) { AttentionMask = mask, TokenTypeIds = types, Labels = labels };
    }

    /// <inheritdoc/>
    public override void ConfigureModel(DebertaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (IsRegression)
        {
            config.SetNumLabels(1);
            config.ProblemType = "regression";
        }
        else
        {
            config.SetLabels(Labels);
            config.ProblemType = IsMultiLabel ? "multi_label_classification" : "single_label_classification";
        }
    }

    /// <inheritdoc/>
    public override void CheckModel(DebertaPreTrainedModel model)
    {
        base.CheckModel(model);
        int expected = IsRegression ? 1 : Labels.Count;
        if (model.Config.NumLabels != expected)
            throw new TrainingException(
                $"The model has {model.Config.NumLabels} outputs but '{Source}' needs {expected} ({(IsRegression ? "regression" : string.Join(", ", Labels))}).");
    }

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator() => new Evaluator(this);

    private sealed class Evaluator(TextClassificationDataset data) : TaskEvaluator
    {
        private readonly List<int> _gold = [], _predicted = [];
        private readonly List<double> _goldValues = [], _predictedValues = [];
        private long _truePositives, _falsePositives, _falseNegatives, _exact, _rows;

        public override void Add(IReadOnlyList<int> indices, DebertaOutput output)
        {
            var logits = ToFloats(output.Logits ?? throw new TrainingException("The model returned no logits."));
            if (data.IsRegression)
            {
                for (int b = 0; b < indices.Count; b++)
                {
                    _goldValues.Add(data._values[indices[b]]);
                    _predictedValues.Add(logits[b]);
                }
                return;
            }
            int n = logits.Length / indices.Count;                  // [B, labels] row-major
            if (data.IsMultiLabel)
            {
                // A label is predicted when its sigmoid exceeds 0.5, i.e. its logit is positive.
                for (int b = 0; b < indices.Count; b++)
                {
                    bool exact = true;
                    for (int c = 0; c < n; c++)
                    {
                        bool gold = data._targets[indices[b]][c] > 0, predicted = logits[b * n + c] > 0;
                        if (gold && predicted) _truePositives++;
                        else if (predicted) _falsePositives++;
                        else if (gold) _falseNegatives++;
                        exact &= gold == predicted;
                    }
                    if (exact) _exact++;
                    _rows++;
                }
                return;
            }
            for (int b = 0; b < indices.Count; b++)
            {
                int best = 0;
                for (int c = 1; c < n; c++) if (logits[b * n + c] > logits[b * n + best]) best = c;
                _gold.Add((int)data._classes[indices[b]]);
                _predicted.Add(best);
            }
        }

        public override IReadOnlyDictionary<string, double> Compute()
        {
            if (data.IsRegression)
            {
                if (_goldValues.Count == 0) throw new TrainingException("Nothing to evaluate.");
                return new Dictionary<string, double>
                {
                    ["pearson"] = RegressionMetrics.Pearson(_goldValues, _predictedValues),
                    ["spearman"] = RegressionMetrics.Spearman(_goldValues, _predictedValues),
                    ["mse"] = RegressionMetrics.MeanSquaredError(_goldValues, _predictedValues),
                };
            }
            if (data.IsMultiLabel)
            {
                if (_rows == 0) throw new TrainingException("Nothing to evaluate.");
                long denominator = 2 * _truePositives + _falsePositives + _falseNegatives;
                return new Dictionary<string, double>
                {
                    ["f1_micro"] = denominator == 0 ? 1.0 : 2.0 * _truePositives / denominator,     // nothing to find and nothing found
                    ["subset_accuracy"] = (double)_exact / _rows,
                };
            }
            if (_gold.Count == 0) throw new TrainingException("Nothing to evaluate.");
            return new Dictionary<string, double>
            {
                ["accuracy"] = ClassificationMetrics.Accuracy(_gold, _predicted),
                ["f1_macro"] = ClassificationMetrics.MacroF1(_gold, _predicted),
                ["mcc"] = ClassificationMetrics.MatthewsCorrelation(_gold, _predicted),
            };
        }
    }
}
