using DebertaSharp.Pipelines;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>NER against direct model calls: per-token labels, word aggregation, B-/I- grouping, offsets, long-text windows.</summary>
public class TokenClassificationPipelineTests
{
    private const string Text = "Ada Lovelace lived in London with Charles Babbage and wrote notes";
    private static readonly TokenClassificationOptions All = new() { IgnoreLabels = [] };

    /// <summary>Softmax scores of each text token from one direct call on the whole text.</summary>
    private static double[][] Scores(TokenClassificationPipeline ner, string text)
    {
        TokenEncoding e = ner.Tokenizer.Encode(text);
        float[] logits = Direct.Logits(ner.Model, e);
        int n = TaskModels.NerLabels.Length;
        return Enumerable.Range(1, e.Length - 2).Select(p => Direct.Softmax(logits.AsSpan(p * n, n).ToArray())).ToArray();
    }

    [Fact]
    public void EachTokenGetsItsArgmaxLabelAndOffsetsIntoTheText()
    {
        using var ner = TokenClassificationPipeline.FromPretrained(TaskModels.Ner);
        var tokens = ner.Recognize(Text, All);
        double[][] scores = Scores(ner, Text);
        TokenEncoding e = ner.Tokenizer.Encode(Text);
        // Every token with text, in order: a bare '▁' (its span is only the space) is no token of its own.
        int[] withText = Enumerable.Range(1, e.Length - 2).Where(p => e.Tokens[p] != "▁").ToArray();
        Assert.Contains(e.Tokens, t => t == "▁");
        Assert.Equal(withText, tokens.Select(x => x.TokenIndex!.Value));
        foreach (TokenEntity x in tokens)
        {
            int t = x.TokenIndex!.Value - 1;
            int best = Direct.ArgMax(scores[t]);
            Assert.Equal(TaskModels.NerLabels[best], x.Entity);
            Assert.Equal(scores[t][best], x.Score, 1e-5);
            Assert.Equal(Text[x.Start..x.End], x.Word);
            Assert.Equal(e.Tokens[t + 1].TrimStart('▁'), x.Word);
        }

        // Default: 'O' is left out.
        Assert.Equal(tokens.Where(x => x.Entity != "O"), ner.Recognize(Text));
        Assert.Contains(tokens, x => x.Entity == "O");
    }

    /// <summary>The text is plain words separated by single spaces: words are the space-separated parts.</summary>
    [Theory]
    [InlineData(AggregationStrategy.First)]
    [InlineData(AggregationStrategy.Average)]
    [InlineData(AggregationStrategy.Max)]
    [InlineData(AggregationStrategy.Simple)]
    public void AggregationFollowsHfOnWholeWords(AggregationStrategy strategy)
    {
        using var ner = TokenClassificationPipeline.FromPretrained(TaskModels.Ner);
        double[][] scores = Scores(ner, Text);
        TokenEncoding e = ner.Tokenizer.Encode(Text);

        // Hand-computed: one (label, score, start, end) per word (or per token for Simple).
        var units = new List<(string Label, double Score, int Start, int End)>();
        int t = 0;
        while (t < scores.Length)
        {
            int last = t;
            while (strategy != AggregationStrategy.Simple && last + 1 < scores.Length && !e.Tokens[last + 2].StartsWith('▁'))
            {
                last++;
            }

            if (strategy == AggregationStrategy.Simple && e.Tokens[t + 1] == "▁")
            {
                t++;        // no text of its own
                continue;
            }

            double[][] word = scores[t..(last + 1)];
            double[] s = strategy switch
            {
                AggregationStrategy.Average => Enumerable.Range(0, 5).Select(k => word.Average(w => w[k])).ToArray(),
                AggregationStrategy.Max => word.MaxBy(w => w.Max())!,
                _ => word[0],
            };
            int best = Direct.ArgMax(s);
            int start = e.Offsets[t + 1].Start + (Text[e.Offsets[t + 1].Start] == ' ' ? 1 : 0);
            units.Add((TaskModels.NerLabels[best], s[best], start, e.Offsets[last + 1].End));
            t = last + 1;
        }

        var expected = new List<(string, double, int, int)>();
        var group = new List<(string Label, double Score, int Start, int End)>();
        foreach (var u in units.Append(("END", 0, 0, 0)))
        {
            string tag = u.Label.Length > 2 && u.Label[1] == '-' ? u.Label[2..] : u.Label;
            string lastTag = group.Count == 0 ? "" : group[^1].Label.Length > 2 && group[^1].Label[1] == '-' ? group[^1].Label[2..] : group[^1].Label;
            if (group.Count > 0 && (tag != lastTag || u.Label.StartsWith("B-")))
            {
                expected.Add((lastTag, group.Average(g => g.Score), group[0].Start, group[^1].End));
                group.Clear();
            }

            group.Add(u);
        }

        var actual = ner.Recognize(Text, All with { Aggregation = strategy });
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (label, score, start, end) = expected[i];
            Assert.Equal(label, actual[i].Entity);
            Assert.Equal(score, actual[i].Score, 1e-5);
            Assert.Equal((start, end), (actual[i].Start, actual[i].End));
            Assert.Equal(Text[start..end], actual[i].Word);
            Assert.Null(actual[i].TokenIndex);
        }
    }

    [Fact]
    public void GroupingMergesInsideTagsAndSplitsOnBeginTags()
    {
        const string text = "Ada Lovelace Bob in New York";
        TokenEntity E(string label, float score, int start, int end) => new(label, score, text[start..end], start, end, 1);
        var groups = TokenClassificationPipeline.Group(text,
        [
            E("B-PER", 0.9f, 0, 3), E("I-PER", 0.7f, 4, 12), E("B-PER", 0.8f, 13, 16), E("O", 0.6f, 17, 19),
            E("I-LOC", 0.5f, 20, 23), E("LOC", 0.3f, 24, 28),
        ]);
        Assert.Equal(
            [("PER", "Ada Lovelace", 0.8f), ("PER", "Bob", 0.8f), ("O", "in", 0.6f), ("LOC", "New York", 0.4f)],
            groups.Select(g => (g.Entity, g.Word, MathF.Round(g.Score, 5))));
    }

    [Theory]
    [InlineData("tokenizer-v3")]
    [InlineData("tokenizer-v1")]
    public void WordsJoinPiecesWithoutWhitespaceBetween(string fixture)
    {
        const string text = "Hello, world! Don't  (panic) [MASK] x";
        var tokenizer = AutoTokenizer.FromPretrained(DebertaSharp.Tests.Tokenization.GoldenData.Folder(fixture));
        var pieces = tokenizer.Encode(text, new EncodeOptions { AddSpecialTokens = false });
        var words = TextWords.Of(tokenizer, text, pieces);
        var spans = Enumerable.Range(0, pieces.Length).Where(t => words.WordIds[t] >= 0)
            .Select(t => words.WordSpan(t)).Distinct().Select(s => text[s.Start..s.End]);
        Assert.Equal(["Hello,", "world!", "Don't", "(panic)", "x"], spans);
        Assert.Equal(-1, words.WordIds[Array.IndexOf(pieces.Tokens.ToArray(), "[MASK]")]);
    }

    [Fact]
    public void LongTextsAreLabelledInWindowsWhereEachTokenHasMostContext()
    {
        using var ner = TokenClassificationPipeline.FromPretrained(TaskModels.Ner);
        string text = string.Join(" ", Enumerable.Repeat(Text, 3));
        TokenEncoding full = ner.Tokenizer.Encode(text);
        int total = full.Length - 2;
        ner.MaxLength = 12;                               // windows of 10 text tokens
        var tokens = ner.Recognize(text, All with { Stride = 4 });
        int[] withText = Enumerable.Range(1, total).Where(p => full.Tokens[p] != "▁").ToArray();
        Assert.Equal(withText, tokens.Select(x => x.TokenIndex!.Value));

        // Windows start every 6 tokens; the last one ends at the last token.
        var windows = new List<int>();
        for (int s = 0; ; s += 6)
        {
            windows.Add(s);
            if (s + 10 >= total)
            {
                break;
            }
        }

        foreach (TokenEntity x in tokens)
        {
            int t = x.TokenIndex!.Value - 1;
            int w = windows.Select((s, i) => (s, i)).Where(p => p.s <= t && t < p.s + 10)
                .MaxBy(p => Math.Min(t - p.s, Math.Min(p.s + 10, total) - 1 - t)).s;
            int count = Math.Min(10, total - w);
            var ids = new List<int> { ner.Tokenizer.ClsTokenId };
            ids.AddRange(full.InputIds.Skip(1 + w).Take(count));
            ids.Add(ner.Tokenizer.SepTokenId);
            float[] logits = DirectIds.Run(ner.Model, ids, new int[ids.Count])[0];
            double[] s = Direct.Softmax(logits.AsSpan((t - w + 1) * 5, 5).ToArray());
            Assert.Equal(TaskModels.NerLabels[Direct.ArgMax(s)], x.Entity);
            Assert.Equal(s.Max(), x.Score, 1e-5);
            Assert.Equal(text[x.Start..x.End], x.Word);
        }
    }

    [Fact]
    public void BatchesGiveTheSameEntitiesAsSingleTexts()
    {
        using var ner = TokenClassificationPipeline.FromPretrained(TaskModels.Ner);
        ner.BatchSize = 2;
        string[] texts = [Text, "Charles went to Paris.", "Notes"];
        var options = All with { Aggregation = AggregationStrategy.Average };
        var batched = ner.Recognize(texts, options);
        for (int i = 0; i < texts.Length; i++)
        {
            var single = ner.Recognize(texts[i], options);
            Assert.Equal(single.Select(x => (x.Entity, x.Start, x.End)), batched[i].Select(x => (x.Entity, x.Start, x.End)));
            Assert.Equal(single.Select(x => x.Score), batched[i].Select(x => x.Score), (a, b) => Math.Abs(a - b) < 1e-5);
        }
    }

    [Fact]
    public void BadInputIsNamed()
    {
        using var ner = TokenClassificationPipeline.FromPretrained(TaskModels.Ner);
        Assert.Contains("empty", Assert.Throws<DebertaInputException>(() => ner.Recognize(" ")).Message);
        Assert.Contains("stride", Assert.Throws<DebertaInputException>(() => ner.Recognize(Text, All with { Stride = -1 })).Message);
        Assert.Contains("TokenClassification", Assert.Throws<DebertaConfigurationException>(() => TokenClassificationPipeline.FromPretrained(TaskModels.Sentiment)).Message);
    }
}
