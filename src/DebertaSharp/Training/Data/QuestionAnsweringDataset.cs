using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Metrics;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>How SQuAD questions become features.</summary>
public sealed record QuestionAnsweringDatasetOptions
{
    /// <summary>Tokens per feature: <c>[CLS] question [SEP] context window [SEP]</c>.</summary>
    public int MaxLength { get; init; } = 384;

    /// <summary>Tokens shared by consecutive windows of a long context (HF <c>doc_stride</c>).</summary>
    public int DocStride { get; init; } = 128;

    /// <summary>Question tokens kept (longer questions are cut).</summary>
    public int MaxQuestionLength { get; init; } = 64;

    /// <summary>Longest answer, in tokens, evaluation may predict.</summary>
    public int MaxAnswerLength { get; init; } = 30;

    /// <summary>Start and end candidates considered per window at evaluation.</summary>
    public int BestCandidates { get; init; } = 20;
}

/// <summary>
/// SQuAD v1.1 / v2.0 questions as features: the context is cut into overlapping windows of
/// <c>[CLS] question [SEP] window [SEP]</c>; a window that holds the whole (first) answer is labelled with its start and
/// end tokens, any other window (and an unanswerable question) with the <c>[CLS]</c> position, as HF's <c>run_qa</c>.
/// Evaluation picks the best span over all windows of a question and scores exact match and F1 (0–100).
/// </summary>
public sealed class QuestionAnsweringDataset : FineTuningDataset
{
    private readonly Feature[] _features;

    private sealed record Feature(int Example, int[] Ids, int[] Types, int Start, int End, int ContextOffset, TokenOffset[] ContextOffsets);

    private QuestionAnsweringDataset(string source, int pad, QuestionAnsweringDatasetOptions options, IReadOnlyList<SquadExample> examples, Feature[] features)
        : base(source, pad)
    {
        Options = options;
        Examples = examples;
        _features = features;
        HasUnanswerable = examples.Any(e => e.IsImpossible);
    }

    /// <summary>The options used.</summary>
    public QuestionAnsweringDatasetOptions Options { get; }

    /// <summary>The questions as read.</summary>
    public IReadOnlyList<SquadExample> Examples { get; }

    /// <summary>Whether some question is unanswerable (SQuAD 2.0): evaluation may then predict "no answer".</summary>
    public bool HasUnanswerable { get; }

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.QuestionAnswering;

    /// <inheritdoc/>
    public override int Count => _features.Length;

    /// <inheritdoc/>
    public override int ExampleCount => Examples.Count;

    /// <inheritdoc/>
    public override string DefaultMetric => "f1";

    /// <summary>Reads a SQuAD-format file and makes the features.</summary>
    /// <exception cref="DatasetException">The file is malformed (file and line named) or the lengths leave no room for context.</exception>
    public static QuestionAnsweringDataset Load(string path, DebertaTokenizerBase tokenizer, QuestionAnsweringDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        var examples = SquadFile.Read(path);
        if (options.MaxQuestionLength < 1 || options.DocStride < 0 || options.MaxAnswerLength < 1 || options.BestCandidates < 1)
            throw new DatasetException($"Question answering options must be positive: {options}.");
        if (options.MaxLength - 3 <= options.DocStride)
            throw new DatasetException($"max length {options.MaxLength} leaves no room for context windows that move past the doc stride {options.DocStride}.");

        var plain = new EncodeOptions { AddSpecialTokens = false };
        var features = new List<Feature>();
        for (int e = 0; e < examples.Count; e++)
        {
            var example = examples[e];
            var question = tokenizer.Encode(example.Question, plain with { MaxLength = options.MaxQuestionLength });
            var context = tokenizer.Encode(example.Context, plain);
            int windowSize = options.MaxLength - question.Length - 3;
            if (windowSize <= options.DocStride)
                throw new DatasetException(
                    $"{path}:{example.Line}: max length {options.MaxLength} leaves {windowSize} context tokens per window after this {question.Length}-token question, " +
                    $"not more than the doc stride {options.DocStride}; raise the max length, lower the stride or the max question length.");
            int contextOffset = question.Length + 2;                       // [CLS] q… [SEP] then the window
            // The windows are the tokenizer's overflow, as run_qa.py: truncation only_second, stride = doc_stride.
            foreach (var w in TokenWindows.Of(tokenizer, question, context, options.MaxLength, options.DocStride))
            {
                var offsets = Enumerable.Range(0, w.Length).Where(i => w.SequenceIds[i] == 1).Select(i => w.Offsets[i]).ToArray();
                var (start, stop) = LabelWindow(example, offsets, contextOffset);
                features.Add(new Feature(e, [.. w.InputIds], [.. w.TokenTypeIds], start, stop, contextOffset, offsets));
            }
        }
        return new QuestionAnsweringDataset(path, tokenizer.PadTokenId, options, examples, [.. features]);
    }

    // The token positions of the first answer if the window holds all of it, else [CLS] (0, 0).
    private static (int Start, int End) LabelWindow(SquadExample example, TokenOffset[] offsets, int contextOffset)
    {
        if (example.IsImpossible || example.Answers.Count == 0 || offsets.Length == 0) return (0, 0);
        int charStart = example.Answers[0].Start, charEnd = charStart + example.Answers[0].Text.Length;
        int first = -1, last = -1;
        for (int i = 0; i < offsets.Length; i++)
        {
            if (offsets[i].Length == 0) continue;
            if (first < 0 && offsets[i].End > charStart) first = i;
            if (offsets[i].Start < charEnd) last = i;
        }
        // The answer must start and end inside this window.
        if (first < 0 || last < first || offsets.First(o => o.Length > 0).Start > charStart || offsets.Last(o => o.Length > 0).End < charEnd)
            return (0, 0);
        return (first + contextOffset, last + contextOffset);
    }

    /// <inheritdoc/>
    public override int ExampleOf(int index) => _features[index].Example;

    /// <inheritdoc/>
    public override int LengthOf(int index) => _features[index].Ids.Length;

    /// <inheritdoc/>
    public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
    {
        var (ids, mask, types) = PadBatch(indices.Select(i => _features[i].Ids).ToList(), indices.Select(i => _features[i].Types).ToList(), device);
        return new DebertaInputs(ids)
        {
            AttentionMask = mask,
            TokenTypeIds = types,
            StartPositions = tensor(indices.Select(i => (long)_features[i].Start).ToArray(), ScalarType.Int64, device),   // [B]
            EndPositions = tensor(indices.Select(i => (long)_features[i].End).ToArray(), ScalarType.Int64, device),       // [B]
        };
    }

    /// <inheritdoc/>
    public override void ConfigureModel(DebertaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.SetNumLabels(2);
    }

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator() => new Evaluator(this);

    /// <summary>
    /// The answer text a window's scores give: the best-scoring span (start ≤ end, at most <see cref="QuestionAnsweringDatasetOptions.MaxAnswerLength"/>
    /// tokens, inside the context) and its score, or <c>null</c> when the window has no valid span.
    /// </summary>
    private (string Text, double Score)? BestSpan(Feature feature, ReadOnlySpan<float> start, ReadOnlySpan<float> end)
    {
        var starts = TopIndices(start, feature);
        var ends = TopIndices(end, feature);
        (string, double)? best = null;
        foreach (int s in starts)
        {
            foreach (int e in ends)
            {
                if (e < s || e - s + 1 > Options.MaxAnswerLength) continue;
                double score = start[s] + end[e];
                if (best is { } b && b.Item2 >= score) continue;
                var context = Examples[feature.Example].Context;
                int from = feature.ContextOffsets[s - feature.ContextOffset].Start, to = feature.ContextOffsets[e - feature.ContextOffset].End;
                if (to <= from) continue;
                best = (context[from..to].Trim(), score);
            }
        }
        return best;
    }

    // The positions of the highest scores among the window's context tokens that cover text.
    private int[] TopIndices(ReadOnlySpan<float> scores, Feature feature)
    {
        var candidates = new List<(float Score, int Index)>(feature.ContextOffsets.Length);
        for (int i = 0; i < feature.ContextOffsets.Length; i++)
            if (feature.ContextOffsets[i].Length > 0) candidates.Add((scores[feature.ContextOffset + i], feature.ContextOffset + i));
        return candidates.OrderByDescending(c => c.Score).Take(Options.BestCandidates).Select(c => c.Index).ToArray();
    }

    private sealed class Evaluator(QuestionAnsweringDataset data) : TaskEvaluator
    {
        private readonly Dictionary<int, (string Text, double Score)> _best = [];
        private readonly Dictionary<int, double> _nullScore = [];

        public override void Add(IReadOnlyList<int> indices, DebertaOutput output)
        {
            var startLogits = output.StartLogits ?? throw new TrainingException("The model returned no start logits.");
            var endLogits = output.EndLogits ?? throw new TrainingException("The model returned no end logits.");
            int length = (int)startLogits.shape[1];
            var starts = ToFloats(startLogits);                            // [B, L]
            var ends = ToFloats(endLogits);
            for (int b = 0; b < indices.Count; b++)
            {
                var feature = data._features[indices[b]];
                var s = starts.AsSpan(b * length, length);
                var e = ends.AsSpan(b * length, length);
                double nullScore = s[0] + e[0];
                _nullScore[feature.Example] = Math.Min(_nullScore.GetValueOrDefault(feature.Example, double.PositiveInfinity), nullScore);
                if (data.BestSpan(feature, s, e) is { } span &&
                    (!_best.TryGetValue(feature.Example, out var current) || span.Score > current.Score))
                    _best[feature.Example] = span;
            }
        }

        public override IReadOnlyDictionary<string, double> Compute()
        {
            if (_nullScore.Count == 0) throw new TrainingException("Nothing to evaluate.");
            var predictions = new List<string>();
            var golds = new List<IReadOnlyList<string>>();
            for (int e = 0; e < data.Examples.Count; e++)
            {
                if (!_nullScore.ContainsKey(e)) continue;                 // not part of what was evaluated
                string answer = _best.TryGetValue(e, out var best) ? best.Text : "";
                // SQuAD 2.0: "no answer" when [CLS] outscores the best span (HF run_qa, threshold 0).
                if (data.HasUnanswerable && (!_best.ContainsKey(e) || _nullScore[e] > best.Score)) answer = "";
                predictions.Add(answer);
                golds.Add(data.Examples[e].Answers.Select(a => a.Text).ToList());
            }
            var (em, f1) = SquadMetrics.Score(predictions, golds);
            return new Dictionary<string, double> { ["exact_match"] = em, ["f1"] = f1 };
        }
    }
}
