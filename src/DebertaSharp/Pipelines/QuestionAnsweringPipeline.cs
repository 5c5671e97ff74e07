using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Extractive question answering (HF's <c>question-answering</c> pipeline): the answer is the span of the context
/// with the highest P(start)·P(end), start ≤ end &lt; start + <see cref="QuestionAnsweringOptions.MaxAnswerLength"/>,
/// probabilities soft-maxed over the context tokens of a window (question and padding masked out). A context too
/// long for one window is cut into windows that share <see cref="QuestionAnsweringOptions.DocStride"/> tokens, each
/// with the whole question; the best spans of all windows compete, and a span found in two windows counts once with
/// its best score. Answers are character spans of the original context.
/// </summary>
/// <example>
/// <code>
/// using var qa = QuestionAnsweringPipeline.FromPretrained("path/to/deberta-v3-squad2");
/// QuestionAnswer a = qa.Answer("Where do penguins live?", "Most penguins live in the Southern Hemisphere.")[0];
/// Console.WriteLine($"{a.Answer} ({a.Score:F2}) at [{a.Start}, {a.End})");
/// </code>
/// </example>
public sealed class QuestionAnsweringPipeline : Pipeline
{
    /// <summary>Wraps a question-answering model and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">A <see cref="DebertaForQuestionAnswering"/>.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="DebertaConfigurationException">Another head, or a tokenizer larger than the vocabulary.</exception>
    public QuestionAnsweringPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private QuestionAnsweringPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, HeadKind.QuestionAnswering, "question answering", ownsModel)
    {
    }

    /// <summary>Loads model and tokenizer from a checkpoint folder whose <c>architectures</c> is a question-answering model.</summary>
    /// <param name="folder">Checkpoint folder: config.json, weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, or a checkpoint of another head.</exception>
    public static QuestionAnsweringPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype);
        try
        {
            return new QuestionAnsweringPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Answers one question from one context.</summary>
    /// <param name="question">The question.</param>
    /// <param name="context">The text that holds the answer.</param>
    /// <param name="options">Top-k, lengths, stride; <c>null</c> for HF's defaults.</param>
    /// <returns>Up to top-k answers, best first.</returns>
    /// <exception cref="DebertaInputException">Empty question or context, a question too long for the window, or bad options.</exception>
    public IReadOnlyList<QuestionAnswer> Answer(string question, string context, QuestionAnsweringOptions? options = null) =>
        Answer([question], [context], options)[0];

    /// <summary>Answers several (question, context) pairs; all windows go through the model <see cref="Pipeline.BatchSize"/> at a time.</summary>
    /// <param name="questions">The questions.</param>
    /// <param name="contexts">The context of each question (same count).</param>
    /// <param name="options">Top-k, lengths, stride; <c>null</c> for HF's defaults.</param>
    /// <returns>Per question, up to top-k answers, best first.</returns>
    /// <exception cref="DebertaInputException">An empty question or context, different counts, a question too long for the window, or bad options.</exception>
    public IReadOnlyList<IReadOnlyList<QuestionAnswer>> Answer(
        IReadOnlyList<string> questions, IReadOnlyList<string> contexts, QuestionAnsweringOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(questions);
        ArgumentNullException.ThrowIfNull(contexts);
        options ??= QuestionAnsweringOptions.Default;
        if (questions.Count != contexts.Count)
        {
            throw new DebertaInputException($"Got {questions.Count} questions but {contexts.Count} contexts; the counts must match.");
        }

        if (options.TopK < 1)
        {
            throw new DebertaInputException($"top_k must be at least 1, got {options.TopK}.");
        }

        if (options.MaxAnswerLength < 1)
        {
            throw new DebertaInputException($"max_answer_len must be at least 1, got {options.MaxAnswerLength}.");
        }

        int maxLength = options.MaxSequenceLength ?? Math.Min(EffectiveMaxLength, 384);
        if (maxLength < 4 || maxLength > EffectiveMaxLength)
        {
            throw new DebertaInputException($"max_seq_len {maxLength} must lie in [4, {EffectiveMaxLength}] (Pipeline.EffectiveMaxLength).");
        }

        if (options.DocStride is < 0)
        {
            throw new DebertaInputException($"doc_stride must be 0 or more, got {options.DocStride}.");
        }

        var examples = new Example[questions.Count];
        var rows = new List<TokenEncoding>();
        for (int i = 0; i < questions.Count; i++)
        {
            string one = questions.Count == 1 ? "" : $" {i}";
            string question = RequireText(questions[i], "question" + one);
            string context = RequireText(contexts[i], "context" + one);
            TokenEncoding q = Tokenizer.Encode(question, new EncodeOptions { AddSpecialTokens = false });
            TokenEncoding c = Tokenizer.Encode(context, new EncodeOptions { AddSpecialTokens = false });
            int room = maxLength - q.Length - 3;
            if (room < 1)
            {
                throw new DebertaInputException(
                    $"The question{one} is {q.Length} tokens long: with [CLS] and two [SEP] it leaves no room for the context in a window of {maxLength} tokens (max_seq_len); shorten the question or raise max_seq_len.");
            }

            if (c.Length == 0)
            {
                throw new DebertaInputException($"The context{one} has no tokens.");
            }

            int stride = Math.Min(options.DocStride ?? Math.Min(maxLength / 2, 128), room - 1);
            IReadOnlyList<TokenEncoding> cut = TokenWindows.Of(Tokenizer, q, c, maxLength, stride);
            var windows = cut.Select(w => TokenWindows.Span(w, 1)).ToList();
            examples[i] = new Example(context, q.Length, c, TextWords.Of(Tokenizer, context, c), windows, rows.Count);
            rows.AddRange(cut);
        }

        float[][][] logits = ForwardRows(rows, perToken: true, o => o.StartLogits!, o => o.EndLogits!);
        var results = new IReadOnlyList<QuestionAnswer>[questions.Count];
        for (int i = 0; i < questions.Count; i++)
        {
            results[i] = Decode(examples[i], logits[0], logits[1], options);
        }

        return results;
    }

    /// <summary>A tokenized question/context pair, its context windows and the model row of its first window.</summary>
    private sealed record Example(string Context, int QuestionLength, TokenEncoding ContextPieces, TextWords Words, List<(int Start, int Count)> Windows, int FirstRow);

    private static List<QuestionAnswer> Decode(Example x, float[][] startLogits, float[][] endLogits, QuestionAnsweringOptions options)
    {
        var best = new Dictionary<(int, int), QuestionAnswer>();
        double nullScore = double.MaxValue;
        int offset = x.QuestionLength + 2;                                   // [CLS] question [SEP]
        for (int w = 0; w < x.Windows.Count; w++)
        {
            var (windowStart, count) = x.Windows[w];
            float[] s = startLogits[x.FirstRow + w], e = endLogits[x.FirstRow + w];
            // Softmax over [CLS] and the context tokens; question, [SEP]s (and padding) get no probability.
            double[] ps = ContextSoftmax(s, offset, count), pe = ContextSoftmax(e, offset, count);
            nullScore = Math.Min(nullScore, ps[0] * pe[0]);
            var fromWindow = new HashSet<(int, int)>();
            foreach (var (a, b, score) in RankedSpans(ps, pe, offset, count, options.MaxAnswerLength))
            {
                int first = windowStart + a - offset, last = windowStart + b - offset;   // context token indices
                var (start, end) = options.AlignToWords
                    ? (x.Words.WordSpan(first).Start, x.Words.WordSpan(last).End)
                    : (x.Words.Starts[first], x.Words.Ends[last]);
                if (end < start)
                {
                    end = start;
                }

                if (!fromWindow.Add((start, end)))
                {
                    continue;   // another token span of the same words scored higher
                }

                var answer = new QuestionAnswer(x.Context[start..end], (float)score, start, end);
                if (!best.TryGetValue((start, end), out QuestionAnswer? seen) || seen.Score < answer.Score)
                {
                    best[(start, end)] = answer;
                }

                if (fromWindow.Count == options.TopK)
                {
                    break;
                }
            }
        }

        var answers = best.Values.ToList();
        if (options.HandleImpossibleAnswer)
        {
            answers.Add(new QuestionAnswer("", (float)nullScore, 0, 0));
        }

        return answers.OrderByDescending(a => a.Score).ThenBy(a => a.Start).Take(options.TopK).ToList();
    }

    /// <summary>Probabilities over the row: softmax of [CLS] (position 0) and the context positions, 0 elsewhere.</summary>
    private static double[] ContextSoftmax(float[] logits, int offset, int count)
    {
        var kept = new float[count + 1];
        kept[0] = logits[0];
        Array.Copy(logits, offset, kept, 1, count);
        double[] p = Probabilities.Softmax(kept);
        var full = new double[logits.Length];
        full[0] = p[0];
        Array.Copy(p, 1, full, offset, count);
        return full;
    }

    /// <summary>The context spans (a, b) of a window with a ≤ b &lt; a + <paramref name="maxAnswer"/>, best P(a)·P(b) first.</summary>
    private static List<(int A, int B, double Score)> RankedSpans(double[] ps, double[] pe, int offset, int count, int maxAnswer)
    {
        var spans = new List<(int A, int B, double Score)>();
        for (int a = offset; a < offset + count; a++)
        {
            for (int b = a; b < Math.Min(a + maxAnswer, offset + count); b++)
            {
                spans.Add((a, b, ps[a] * pe[b]));
            }
        }

        return spans.OrderByDescending(s => s.Score).ThenBy(s => s.A).ThenBy(s => s.B).ToList();
    }
}
