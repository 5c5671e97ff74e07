using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Labels tokens and groups them into entities (HF's <c>token-classification</c> / NER pipeline), with character
/// offsets into the original text. Words are the tokenizer's pieces joined where no whitespace separates them
/// (<c>▁</c> / <c>Ġ</c> pieces start words), which the First/Average/Max strategies use to give every token of a word
/// the same label. Texts longer than <see cref="Pipeline.EffectiveMaxLength"/> are labelled in overlapping windows.
/// </summary>
/// <example>
/// <code>
/// using var ner = TokenClassificationPipeline.FromPretrained("path/to/deberta-v3-ner");
/// foreach (var e in ner.Recognize("Ada Lovelace lived in London.", new() { Aggregation = AggregationStrategy.First }))
///     Console.WriteLine($"{e.Entity}: {e.Word} [{e.Start}, {e.End})");
/// </code>
/// </example>
public sealed class TokenClassificationPipeline : Pipeline
{
    /// <summary>Wraps a token-classification model and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">A <see cref="DebertaForTokenClassification"/>.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="DebertaConfigurationException">Another head, or a tokenizer larger than the vocabulary.</exception>
    public TokenClassificationPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private TokenClassificationPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, HeadKind.TokenClassification, "token classification", ownsModel)
    {
    }

    /// <summary>Loads model and tokenizer from a checkpoint folder whose <c>architectures</c> is a token classifier.</summary>
    /// <param name="folder">Checkpoint folder: config.json (with id2label), weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, or a checkpoint of another head.</exception>
    public static TokenClassificationPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype);
        try
        {
            return new TokenClassificationPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Labels one text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="options">Aggregation, ignored labels and stride; <c>null</c> for the defaults.</param>
    /// <returns>Tokens or entities in text order, ignored labels left out.</returns>
    /// <exception cref="DebertaInputException">Empty text or bad options.</exception>
    public IReadOnlyList<TokenEntity> Recognize(string text, TokenClassificationOptions? options = null) => Recognize([text], options)[0];

    /// <summary>Labels several texts; their windows go through the model <see cref="Pipeline.BatchSize"/> at a time.</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="options">Aggregation, ignored labels and stride; <c>null</c> for the defaults.</param>
    /// <returns>Per text, tokens or entities in text order.</returns>
    /// <exception cref="DebertaInputException">An empty text or bad options.</exception>
    public IReadOnlyList<IReadOnlyList<TokenEntity>> Recognize(IReadOnlyList<string> texts, TokenClassificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= TokenClassificationOptions.Default;
        int window = EffectiveMaxLength - 2;
        if (options.Stride < 0)
        {
            throw new DebertaInputException($"stride must be 0 or more, got {options.Stride}.");
        }

        int stride = Math.Min(options.Stride, window / 2);
        var ignore = new HashSet<string>(options.IgnoreLabels ?? [], StringComparer.Ordinal);

        // Tokenize once per text, then take the tokenizer's overflow windows: every window is one row for the model.
        var pieces = new TokenEncoding[texts.Count];
        var windows = new List<(int Start, int Count)>[texts.Count];
        var rows = new List<TokenEncoding>();
        for (int i = 0; i < texts.Count; i++)
        {
            string text = RequireText(texts[i], texts.Count == 1 ? "text" : $"text {i}");
            pieces[i] = Tokenizer.Encode(text, new EncodeOptions { AddSpecialTokens = false });
            IReadOnlyList<TokenEncoding> cut = pieces[i].Length == 0 ? [] : TokenWindows.Of(Tokenizer, pieces[i], null, window + 2, stride);
            windows[i] = cut.Select(w => TokenWindows.Span(w, 0)).ToList();
            rows.AddRange(cut);
        }

        float[][] logits = ForwardRows(rows, perToken: true, o => o.Logits!)[0];   // [row][position·label]
        int labels = Model.Config.NumLabels;
        var results = new IReadOnlyList<TokenEntity>[texts.Count];
        int row = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            double[][] scores = TokenScores(pieces[i].Length, windows[i], logits, row, labels);
            row += windows[i].Count;
            List<Token> tokens = Tokens(texts[i], pieces[i], scores);
            List<TokenEntity> entities = options.Aggregation switch
            {
                AggregationStrategy.None => tokens.Where(t => t.HasText).Select(t => Labelled(texts[i], t)).ToList(),
                AggregationStrategy.Simple => Group(texts[i], tokens.Where(t => t.HasText).Select(t => Labelled(texts[i], t))),
                _ => Group(texts[i], Words(tokens).Select(w => WordEntity(texts[i], w, options.Aggregation))),
            };
            results[i] = entities.Where(e => !ignore.Contains(e.Entity)).ToList();
        }

        return results;
    }

    /// <summary>Softmax scores per content token; in overlaps a token takes the window where it is farthest from an edge.</summary>
    private static double[][] TokenScores(int length, List<(int Start, int Count)> windows, float[][] logits, int firstRow, int labels)
    {
        var scores = new double[length][];
        var margin = new int[length];
        Array.Fill(margin, -1);
        for (int w = 0; w < windows.Count; w++)
        {
            var (start, count) = windows[w];
            for (int t = start; t < start + count; t++)
            {
                int m = Math.Min(t - start, start + count - 1 - t);
                if (m > margin[t])
                {
                    margin[t] = m;
                    int position = t - start + 1;                    // after [CLS]
                    scores[t] = Probabilities.Softmax(logits[firstRow + w].AsSpan(position * labels, labels));
                }
            }
        }

        return scores;
    }

    /// <summary>A token of the text: position in the encoded text, scores, span without leading whitespace, whether it continues the previous word.</summary>
    private sealed record Token(int Index, double[] Scores, int Start, int End, bool IsSubword)
    {
        public bool HasText => End > Start;
    }

    /// <summary>The text's tokens (special tokens written in the text left out) with their scores and word boundaries.</summary>
    private List<Token> Tokens(string text, TokenEncoding pieces, double[][] scores)
    {
        var words = TextWords.Of(Tokenizer, text, pieces);
        var tokens = new List<Token>(pieces.Length);
        for (int t = 0; t < pieces.Length; t++)
        {
            if (words.WordIds[t] >= 0)
            {
                tokens.Add(new Token(t + 1, scores[t], words.Starts[t], words.Ends[t], words.IsSubword(t)));
            }
        }

        return tokens;
    }

    private TokenEntity Labelled(string text, Token t)
    {
        int best = ArgMax(t.Scores);
        return new TokenEntity(LabelOf(best), (float)t.Scores[best], text[t.Start..t.End], t.Start, t.End, t.Index);
    }

    private static IEnumerable<List<Token>> Words(List<Token> tokens)
    {
        List<Token>? word = null;
        foreach (Token t in tokens)
        {
            if (word is not null && !t.IsSubword)
            {
                yield return word;
                word = null;
            }

            (word ??= []).Add(t);
        }

        if (word is not null)
        {
            yield return word;
        }
    }

    /// <summary>HF's <c>aggregate_word</c>: one label for all tokens of a word.</summary>
    private TokenEntity WordEntity(string text, List<Token> word, AggregationStrategy strategy)
    {
        double[] scores = strategy switch
        {
            AggregationStrategy.First => word[0].Scores,
            AggregationStrategy.Max => word.MaxBy(t => t.Scores.Max())!.Scores,
            _ => Enumerable.Range(0, word[0].Scores.Length).Select(k => word.Average(t => t.Scores[k])).ToArray(),
        };
        int best = ArgMax(scores);
        int start = word[0].Start, end = word[^1].End;
        return new TokenEntity(LabelOf(best), (float)scores[best], text[start..end], start, end, null);
    }

    /// <summary>HF's <c>group_entities</c>: adjacent entities of one type merge unless the next one is a B- tag.</summary>
    internal static List<TokenEntity> Group(string text, IEnumerable<TokenEntity> entities)
    {
        var groups = new List<TokenEntity>();
        var current = new List<TokenEntity>();
        foreach (TokenEntity e in entities)
        {
            if (current.Count > 0)
            {
                var (bi, tag) = Tag(e.Entity);
                if (tag != Tag(current[^1].Entity).Tag || bi == 'B')
                {
                    groups.Add(Merge(text, current));
                    current = [];
                }
            }

            current.Add(e);
        }

        if (current.Count > 0)
        {
            groups.Add(Merge(text, current));
        }

        return groups;
    }

    private static TokenEntity Merge(string text, List<TokenEntity> group)
    {
        int start = group[0].Start, end = group[^1].End;
        return new TokenEntity(Tag(group[0].Entity).Tag, (float)group.Average(e => (double)e.Score), text[start..end], start, end, null);
    }

    /// <summary>B-/I- prefix and entity type; a label without prefix counts as I- (HF's <c>get_tag</c>).</summary>
    private static (char Bi, string Tag) Tag(string label) =>
        label.StartsWith("B-", StringComparison.Ordinal) ? ('B', label[2..]) :
        label.StartsWith("I-", StringComparison.Ordinal) ? ('I', label[2..]) : ('I', label);

    private static int ArgMax(double[] values)
    {
        int best = 0;
        for (int k = 1; k < values.Length; k++)
        {
            if (values[k] > values[best])
            {
                best = k;
            }
        }

        return best;
    }
}
