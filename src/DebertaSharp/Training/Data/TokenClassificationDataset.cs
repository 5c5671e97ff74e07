using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Metrics;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>How to read a CoNLL-style tagging file.</summary>
public sealed record TokenClassificationDatasetOptions
{
    /// <summary>Tag names in class order; <c>null</c> to take the distinct tags of the file (sorted).</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>0-based column of the tag; −1 for the last column.</summary>
    public int TagColumn { get; init; } = -1;

    /// <summary>Tokens per sentence after truncation, special tokens included; words cut off are not trained or scored.</summary>
    public int MaxLength { get; init; } = 256;
}

/// <summary>
/// Tagged sentences (NER and other BIO tagging), tokenised: the words are joined with spaces and each word's tag goes
/// to its first sub-word token; other sub-words and special tokens get −100 (ignored), as HF's <c>run_ner</c> does.
/// Evaluation scores entities with <see cref="EntityMetrics"/> (seqeval).
/// </summary>
public sealed class TokenClassificationDataset : FineTuningDataset
{
    private readonly int[][] _ids;
    private readonly int[][] _types;
    private readonly int[][] _labels;                 // per token, −100 where not scored
    private readonly IReadOnlyList<TaggedSentence> _sentences;

    private TokenClassificationDataset(string source, int pad, IReadOnlyList<string> labels, IReadOnlyList<TaggedSentence> sentences,
        int[][] ids, int[][] types, int[][] tokenLabels) : base(source, pad)
    {
        Labels = labels;
        _sentences = sentences;
        _ids = ids;
        _types = types;
        _labels = tokenLabels;
    }

    /// <summary>Tag names by class index.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>The sentences as read.</summary>
    public IReadOnlyList<TaggedSentence> Sentences => _sentences;

    /// <inheritdoc/>
    public override HeadKind Head => HeadKind.TokenClassification;

    /// <inheritdoc/>
    public override int Count => _ids.Length;

    /// <inheritdoc/>
    public override string DefaultMetric => "f1";

    /// <summary>Reads and tokenises a CoNLL-style file.</summary>
    /// <exception cref="DatasetException">The file is malformed, or a tag is not in <see cref="TokenClassificationDatasetOptions.Labels"/> (file and line named).</exception>
    public static TokenClassificationDataset Load(string path, DebertaTokenizerBase tokenizer, TokenClassificationDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxLength < 3) throw new DatasetException($"max length must be at least 3 tokens, got {options.MaxLength}.");
        var sentences = ConllFile.Read(path, options.TagColumn);
        var labels = options.Labels ?? LabelSet.Sorted(sentences.SelectMany(s => s.Tags));
        var index = LabelSet.Index(labels, path);
        var encode = new EncodeOptions { MaxLength = options.MaxLength, Truncation = TruncationStrategy.LongestFirst };
        int n = sentences.Count;
        var ids = new int[n][];
        var types = new int[n][];
        var tokenLabels = new int[n][];
        for (int s = 0; s < n; s++)
        {
            var sentence = sentences[s];
            var tagIds = new int[sentence.Tags.Count];
            for (int w = 0; w < tagIds.Length; w++)
                tagIds[w] = index.TryGetValue(sentence.Tags[w], out int t) ? t
                    : throw new DatasetException(LabelSet.NotInSet($"{path}:{sentence.Line + w}", sentence.Tags[w], labels));
            var (wordOfToken, encoding) = EncodeWords(tokenizer, sentence.Words, encode);
            ids[s] = [.. encoding.InputIds];
            types[s] = [.. encoding.TokenTypeIds];
            var perToken = new int[ids[s].Length];
            int previous = -1;
            for (int i = 0; i < perToken.Length; i++)
            {
                int w = wordOfToken[i];
                perToken[i] = w >= 0 && w != previous ? tagIds[w] : -100;      // first sub-word of each word only
                if (w >= 0) previous = w;
            }
            tokenLabels[s] = perToken;
        }
        return new TokenClassificationDataset(path, tokenizer.PadTokenId, labels, sentences, ids, types, tokenLabels);
    }

    /// <summary>
    /// Encodes words joined by single spaces and maps each token to the word its characters fall in (−1 for special
    /// tokens and for pieces that cover no character, such as a bare SentencePiece "▁").
    /// </summary>
    internal static (int[] WordOfToken, TokenEncoding Encoding) EncodeWords(DebertaTokenizerBase tokenizer, IReadOnlyList<string> words, EncodeOptions options)
    {
        var starts = new int[words.Count];
        var ends = new int[words.Count];
        int position = 0;
        for (int w = 0; w < words.Count; w++)
        {
            starts[w] = position;
            ends[w] = position + words[w].Length;
            position = ends[w] + 1;
        }
        var encoding = tokenizer.Encode(string.Join(' ', words), options);
        var wordOfToken = new int[encoding.Length];
        int word = 0;
        for (int i = 0; i < encoding.Length; i++)
        {
            var offset = encoding.Offsets[i];
            wordOfToken[i] = -1;
            if (encoding.SpecialTokensMask[i] == 1 || offset.Length == 0) continue;
            // Offsets increase along the sequence; a "▁word" piece may start on the space before its word.
            while (word < words.Count && ends[word] <= offset.Start) word++;
            if (word < words.Count && starts[word] < offset.End) wordOfToken[i] = word;
        }
        return (wordOfToken, encoding);
    }

    /// <inheritdoc/>
    public override int LengthOf(int index) => _ids[index].Length;

    /// <inheritdoc/>
    public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device)
    {
        var (ids, mask, types) = PadBatch(indices.Select(i => _ids[i]).ToList(), indices.Select(i => _types[i]).ToList(), device);
        var rows = indices.Select(i => _labels[i]).ToList();
        var labels = tensor(PadRows(rows, (int)ids.shape[1], -100), ids.shape, ScalarType.Int64, device);   // [B, L]
        return new DebertaInputs(ids) { AttentionMask = mask, TokenTypeIds = types, Labels = labels };
    }

    /// <inheritdoc/>
    public override void ConfigureModel(DebertaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.SetLabels(Labels);
    }

    /// <inheritdoc/>
    public override void CheckModel(DebertaPreTrainedModel model)
    {
        base.CheckModel(model);
        if (model.Config.NumLabels != Labels.Count)
            throw new TrainingException($"The model has {model.Config.NumLabels} tag outputs but '{Source}' has {Labels.Count} tags ({string.Join(", ", Labels)}).");
    }

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator() => new Evaluator(this);

    private sealed class Evaluator(TokenClassificationDataset data) : TaskEvaluator
    {
        private readonly List<IReadOnlyList<string>> _gold = [], _predicted = [];

        public override void Add(IReadOnlyList<int> indices, DebertaOutput output)
        {
            var logits = output.Logits ?? throw new TrainingException("The model returned no logits.");
            long length = logits.shape[1];
            int n = (int)logits.shape[2];
            var values = ToFloats(logits);                               // [B, L, tags] row-major
            for (int b = 0; b < indices.Count; b++)
            {
                var tokenLabels = data._labels[indices[b]];
                var gold = new List<string>();
                var predicted = new List<string>();
                for (int i = 0; i < tokenLabels.Length; i++)
                {
                    if (tokenLabels[i] < 0) continue;
                    long row = (b * length + i) * n;
                    int best = 0;
                    for (int c = 1; c < n; c++) if (values[row + c] > values[row + best]) best = c;
                    gold.Add(data.Labels[tokenLabels[i]]);
                    predicted.Add(data.Labels[best]);
                }
                _gold.Add(gold);
                _predicted.Add(predicted);
            }
        }

        public override IReadOnlyDictionary<string, double> Compute()
        {
            if (_gold.Count == 0) throw new TrainingException("Nothing to evaluate.");
            var scores = EntityMetrics.Score(_gold, _predicted);
            return new Dictionary<string, double>
            {
                ["precision"] = scores.Precision,
                ["recall"] = scores.Recall,
                ["f1"] = scores.F1,
                ["accuracy"] = scores.Accuracy,
            };
        }
    }
}
