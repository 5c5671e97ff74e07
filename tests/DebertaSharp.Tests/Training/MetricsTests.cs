using DebertaSharp.Training.Metrics;
using Xunit;

namespace DebertaSharp.Tests.Training;

/// <summary>Metric values worked out by hand (see the comments) — not produced by the code under test.</summary>
public class MetricsTests
{
    private static readonly int[] Gold = [0, 0, 1, 1, 2, 2];
    private static readonly int[] Pred = [0, 1, 1, 1, 2, 0];

    [Fact]
    public void AccuracyAndMacroF1()
    {
        Assert.Equal(4.0 / 6, ClassificationMetrics.Accuracy(Gold, Pred), 12);
        // Class 0: tp 1, fp 1, fn 1 → 0.5; class 1: tp 2, fp 1 → 0.8; class 2: tp 1, fn 1 → 2/3.
        Assert.Equal((0.5 + 0.8 + 2.0 / 3) / 3, ClassificationMetrics.MacroF1(Gold, Pred), 12);
        // A class only predicted (never gold) counts with F1 0, as scikit-learn does.
        Assert.Equal((2.0 / 3 + 0) / 2, ClassificationMetrics.MacroF1([0, 0], [0, 1]), 12);
    }

    [Fact]
    public void MatthewsCorrelation()
    {
        // Multi-class: c = 4, s = 6, Σtp = 2·2 + 2·3 + 2·1 = 12, Σp² = 14, Σt² = 12 → (24 − 12)/√((36 − 24)(36 − 14)).
        Assert.Equal(12 / Math.Sqrt(24.0 * 22), ClassificationMetrics.MatthewsCorrelation(Gold, Pred), 12);
        // Binary: TP 1, FN 1, TN 2, FP 0 → (1·2 − 0)/√(1·2·2·3).
        Assert.Equal(2 / Math.Sqrt(12), ClassificationMetrics.MatthewsCorrelation([1, 1, 0, 0], [1, 0, 0, 0]), 12);
        Assert.Equal(0, ClassificationMetrics.MatthewsCorrelation([1, 0, 1], [1, 1, 1]));      // constant prediction
        Assert.Equal(-1, ClassificationMetrics.MatthewsCorrelation([1, 0, 1, 0], [0, 1, 0, 1]), 12);
    }

    [Fact]
    public void PearsonAndSpearmanWithTies()
    {
        // dx = [−1.5, −.5, .5, 1.5], dy = [−3, −1, 0, 4]: Σdxdy = 11, Σdx² = 5, Σdy² = 26.
        Assert.Equal(11 / Math.Sqrt(130), RegressionMetrics.Pearson([1, 2, 3, 4], [2, 4, 5, 9]), 12);
        // Ranks with a tie: [1, 2.5, 2.5, 4] vs [1, 3, 2, 4] → 4.5 / √(4.5 · 5).
        Assert.Equal([1, 2.5, 2.5, 4], RegressionMetrics.Ranks([1, 2, 2, 3]));
        Assert.Equal(4.5 / Math.Sqrt(22.5), RegressionMetrics.Spearman([1, 2, 2, 3], [1, 3, 2, 4]), 12);
        Assert.Equal(1, RegressionMetrics.Spearman([1, 2, 3, 4], [1, 4, 9, 16]), 12);       // monotone, not linear
        Assert.True(double.IsNaN(RegressionMetrics.Pearson([1, 1, 1], [1, 2, 3])));
        Assert.Equal((1 + 0 + 4) / 3.0, RegressionMetrics.MeanSquaredError([1, 2, 3], [2, 2, 1]), 12);
    }

    [Theory]
    [InlineData("B-PER I-PER O B-LOC", "PER 0 1|LOC 3 3")]
    [InlineData("B-PER B-PER", "PER 0 0|PER 1 1")]
    [InlineData("I-PER I-LOC", "PER 0 0|LOC 1 1")]          // I- after O or another type starts an entity
    [InlineData("B-PER I-LOC O", "PER 0 0|LOC 1 1")]
    [InlineData("O I-MISC I-MISC", "MISC 1 2")]
    [InlineData("S-PER B-LOC E-LOC O", "PER 0 0|LOC 1 2")]  // IOBES
    [InlineData("E-PER E-PER", "PER 0 0|PER 1 1")]
    [InlineData("O O", "")]
    public void EntitiesFollowConllevalChunking(string tags, string expected)
    {
        var spans = EntityMetrics.Entities(tags.Split(' '));
        Assert.Equal(expected, string.Join("|", spans.Select(s => $"{s.Type} {s.Start} {s.End}")));
    }

    [Fact]
    public void EntityLevelMicroF1()
    {
        IReadOnlyList<string>[] gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-MISC", "I-MISC"]];
        IReadOnlyList<string>[] pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "I-MISC", "I-MISC"]];
        // Gold {PER 0-1, LOC 3, MISC 1-2}; predicted {PER 0-1, ORG 3, MISC 1-2}: 2 of 3 either way.
        var scores = EntityMetrics.Score(gold, pred);
        Assert.Equal(2.0 / 3, scores.Precision, 12);
        Assert.Equal(2.0 / 3, scores.Recall, 12);
        Assert.Equal(2.0 / 3, scores.F1, 12);
        Assert.Equal(5.0 / 7, scores.Accuracy, 12);      // word-level: 3/4 + 2/3 right
        // A boundary error is a miss: B-PER I-PER vs B-PER O.
        var partial = EntityMetrics.Score([["B-PER", "I-PER"]], [["B-PER", "O"]]);
        Assert.Equal(0, partial.F1);
        Assert.Equal(0, EntityMetrics.Score([["O"]], [["O"]]).F1);
    }

    [Theory]
    [InlineData("The  Quick, brown fox!", "quick brown fox")]
    [InlineData("an apple a day", "apple day")]
    [InlineData("theatre", "theatre")]                 // articles only as whole words
    [InlineData("Ünïcode — dash", "ünïcode — dash")]    // only ASCII punctuation is removed
    public void SquadNormalisation(string text, string expected) => Assert.Equal(expected, SquadMetrics.Normalize(text));

    [Fact]
    public void SquadExactMatchAndF1()
    {
        Assert.Equal(1, SquadMetrics.ExactMatch("the cat", "Cat."));
        // [big, cat, sat] vs [cat, sat, down]: 2 shared → p = r = 2/3.
        Assert.Equal(2.0 / 3, SquadMetrics.F1("the big cat sat", "a cat sat down"), 12);
        Assert.Equal(0.5, SquadMetrics.F1("cat cat", "cat dog"), 12);   // counts are clipped: 1 shared of 2 and 2
        var (em, f1) = SquadMetrics.Score(["Paris", "in 1990", ""], [["paris", "Paris, France"], ["1990", "in the year 1990"], []]);
        // Q1 1/1; Q2: EM 0, F1 max("in 1990" vs "1990" = 2/3, vs "in year 1990" = 0.8); Q3: unanswerable, empty = 1/1.
        Assert.Equal(200.0 / 3, em, 9);
        Assert.Equal((1 + 0.8 + 1) / 3 * 100, f1, 9);
    }
}
