using System.Globalization;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Metrics;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>How to read a multiple-choice file (SWAG-like: a context, optionally a shared start of each ending, the endings, the index of the right one).</summary>
public sealed record MultipleChoiceDatasetOptions
{
    /// <summary>Column of the context (first segment), e.g. <c>sent1</c> or <c>question</c>.</summary>
    public string TextColumn { get; init; } = "text";

    /// <summary>Column whose text starts every choice (SWAG <c>sent2</c>); <c>null</c> for none.</summary>
    public string? PairColumn { get; init; }

    /// <summary>Columns of the choices, in order (at least two).</summary>
    public IReadOnlyList<string> ChoiceColumns { get; init; } = [];

    /// <summary>Column of the 0-based index of the right choice.</summary>
    public string LabelColumn { get; init; } = "label";

    /// <summary>Tokens per (context, choice) sequence after truncation.</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>The file format; <c>null</c> to go by the extension.</summary>
    public TabularFormat? Format { get; init; }
}

/// <summary>
/// Multiple-choice questions, tokenised as one (context, [start +] choice) pair per choice; batches are
/// [B, choices, L] and the model scores the choices against each other.
/// </summary>
public sealed class MultipleChoiceDataset : FineTuningDataset
{
    private readonly int[][][] _ids;       // [example][choice][token]
    private readonly int[][][] _types;
    private readonly long[] _labels;

    private MultipleChoiceDataset(string source, int pad, int choices, int[][][] ids, int[][][] types, long[] labels) : base(source, pad)
    {
        Choices = choices;
        _ids = ids;
        _types = types;
        _labels = labels;
    }

    /// <summary>Choices per question.</summary>
    public int Choices { get; }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.MultipleChoice;

    /// <inheritdoc/>
    public override int Count => _ids.Length;

    /// <inheritdoc/>
    public override string DefaultMetric => "accuracy";

    /// <summary>Reads and tokenises a CSV/TSV/JSON-lines file.</summary>
    /// <exception cref="DatasetException">Fewer than two choice columns, a missing column, or a label that is not a
    /// choice index (file and line named).</exception>
    public static MultipleChoiceDataset Load(string path, DebertaTokenizerBase tokenizer, MultipleChoiceDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChoiceColumns.Count < 2)
            throw new DatasetException($"Multiple choice needs at least two choice columns, got {options.ChoiceColumns.Count} ({string.Join(", ", options.ChoiceColumns)}).");
        if (options.MaxLength < 3) throw new DatasetException($"max length must be at least 3 tokens, got {options.MaxLength}.");
        var data = TabularFile.Read(path, options.Format);
        data.RequireColumns([options.TextColumn, options.PairColumn, options.LabelColumn, .. options.ChoiceColumns]);
        int n = data.Records.Count, c = options.ChoiceColumns.Count;
        var ids = new int[n][][];
        var types = new int[n][][];
        var labels = new long[n];
        var encode = new EncodeOptions { MaxLength = options.MaxLength, Truncation = TruncationStrategy.LongestFirst };
        for (int i = 0; i < n; i++)
        {
            var record = data.Records[i];
            string label = data.Field(record, options.LabelColumn).Trim();
            if (!int.TryParse(label, NumberStyles.Integer, CultureInfo.InvariantCulture, out int index) || index < 0 || index >= c)
                throw new DatasetException($"{path}:{record.Line}: label '{label}' is not a choice index 0…{c - 1}.");
            labels[i] = index;
            string context = data.Field(record, options.TextColumn);
            string start = options.PairColumn is null ? "" : data.Field(record, options.PairColumn);
            ids[i] = new int[c][];
            types[i] = new int[c][];
            for (int k = 0; k < c; k++)
            {
                string choice = data.Field(record, options.ChoiceColumns[k]);
                var encoding = tokenizer.Encode(context, start.Length == 0 ? choice : start + " " + choice, encode);
                ids[i][k] = [.. encoding.InputIds];
                types[i][k] = [.. encoding.TokenTypeIds];
            }
        }
        return new MultipleChoiceDataset(path, tokenizer.PadTokenId, c, ids, types, labels);
    }

    /// <inheritdoc/>
    public override int LengthOf(int index) => _ids[index].Max(s => s.Length);

    /// <inheritdoc/>
    public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
    {
        var (ids, mask, types) = PadBatch(indices.SelectMany(i => _ids[i]).ToList(), indices.SelectMany(i => _types[i]).ToList(),
            device, [indices.Count, Choices]);                                                                   // [B, C, L]
        return new DebertaInputs(ids)
        {
            AttentionMask = mask,
            TokenTypeIds = types,
            Labels = tensor(indices.Select(i => _labels[i]).ToArray(), ScalarType.Int64, device),              // [B]
        };
    }

    /// <inheritdoc/>
    public override void ConfigureModel(DebertaConfig config) => ArgumentNullException.ThrowIfNull(config);

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator() => new Evaluator(this);

    private sealed class Evaluator(MultipleChoiceDataset data) : TaskEvaluator
    {
        private readonly List<int> _gold = [], _predicted = [];

        public override void Add(IReadOnlyList<int> indices, DebertaOutput output)
        {
            var logits = ToFloats(output.Logits ?? throw new TrainingException("The model returned no logits."));   // [B, C]
            for (int b = 0; b < indices.Count; b++)
            {
                int best = 0;
                for (int k = 1; k < data.Choices; k++) if (logits[b * data.Choices + k] > logits[b * data.Choices + best]) best = k;
                _gold.Add((int)data._labels[indices[b]]);
                _predicted.Add(best);
            }
        }

        public override IReadOnlyDictionary<string, double> Compute()
        {
            if (_gold.Count == 0) throw new TrainingException("Nothing to evaluate.");
            return new Dictionary<string, double> { ["accuracy"] = ClassificationMetrics.Accuracy(_gold, _predicted) };
        }
    }
}
