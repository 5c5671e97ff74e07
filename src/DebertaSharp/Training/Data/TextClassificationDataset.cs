using System.Globalization;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Metrics;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>How to read a text-classification or text-pair (NLI) file.</summary>
public sealed record TextClassificationOptions
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

    private TextClassificationDataset(string source, int pad, TextClassificationOptions options, IReadOnlyList<string> labels,
        int[][] ids, int[][] types, long[] classes, float[] values, IReadOnlyList<int> lines)
        : base(source, pad)
    {
        Options = options;
        Labels = labels;
        _ids = ids;
        _types = types;
        _classes = classes;
        _values = values;
        Lines = lines;
    }

    /// <summary>The options the file was read with (<see cref="TextClassificationOptions.Labels"/> filled in).</summary>
    public TextClassificationOptions Options { get; }

    /// <summary>Label names by class index (empty for regression).</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Whether this is regression.</summary>
    public bool IsRegression => Options.Regression;

    /// <summary>The file line of each example.</summary>
    public IReadOnlyList<int> Lines { get; }

    /// <summary>Class index of each example (classification only).</summary>
    public IReadOnlyList<long> ClassIndices => _classes;

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.SequenceClassification;

    /// <inheritdoc/>
    public override int Count => _ids.Length;

    /// <inheritdoc/>
    public override string DefaultMetric => IsRegression ? "pearson" : "accuracy";

    /// <summary>Reads and tokenises a CSV/TSV/JSON-lines file.</summary>
    /// <exception cref="DatasetException">The file is missing, empty or malformed, a column is missing, a label is not
    /// in <see cref="TextClassificationOptions.Labels"/>, or a regression label is not a number (file and line named).</exception>
    public static TextClassificationDataset Load(string path, DebertaTokenizerBase tokenizer, TextClassificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxLength < 3) throw new DatasetException($"max length must be at least 3 tokens, got {options.MaxLength}.");
        var data = TabularFile.Read(path, options.Format);
        data.RequireColumns(options.TextColumn, options.PairColumn, options.LabelColumn);

        var rawLabels = data.Records.Select(r => data.Field(r, options.LabelColumn).Trim()).ToList();
        IReadOnlyList<string> labels = options.Regression ? [] : options.Labels ?? LabelSet.Sorted(rawLabels);
        var index = options.Regression ? [] : LabelSet.Index(labels, path);
        if (!options.Regression && labels.Count < 2 && options.Labels is null)
            throw new DatasetException($"'{path}' has only one label ('{labels[0]}') in column '{options.LabelColumn}'; classification needs at least two.");

        int n = data.Records.Count;
        var ids = new int[n][];
        var types = new int[n][];
        var classes = new long[n];
        var values = new float[n];
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
            else if (index.TryGetValue(label, out int c)) classes[i] = c;
            else throw new DatasetException(LabelSet.NotInSet($"{path}:{record.Line}", label, labels));

            var encoding = tokenizer.Encode(data.Field(record, options.TextColumn),
                options.PairColumn is null ? null : data.Field(record, options.PairColumn), encode);
            ids[i] = [.. encoding.InputIds];
            types[i] = [.. encoding.TokenTypeIds];
        }
        return new TextClassificationDataset(path, tokenizer.PadTokenId, options with { Labels = labels }, labels,
            ids, types, classes, values, data.Records.Select(r => r.Line).ToList());
    }

    /// <inheritdoc/>
    public override int LengthOf(int index) => _ids[index].Length;

    /// <inheritdoc/>
    public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
    {
        var (ids, mask, types) = PadBatch(indices.Select(i => _ids[i]).ToList(), indices.Select(i => _types[i]).ToList(), device);
        var labels = IsRegression
            ? tensor(indices.Select(i => _values[i]).ToArray(), ScalarType.Float32, device)                // [B]
            : tensor(indices.Select(i => _classes[i]).ToArray(), ScalarType.Int64, device);               // [B]
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
            config.ProblemType = "single_label_classification";
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
