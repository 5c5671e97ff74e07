namespace DebertaSharp.Training.Metrics;

/// <summary>Scores of regression (as SciPy computes them).</summary>
public static class RegressionMetrics
{
    /// <summary>Pearson's r; NaN when either side is constant (SciPy returns NaN there too).</summary>
    public static double Pearson(IReadOnlyList<double> gold, IReadOnlyList<double> predicted)
    {
        Check(gold, predicted);
        double mx = gold.Average(), my = predicted.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < gold.Count; i++)
        {
            double dx = gold[i] - mx, dy = predicted[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0) return double.NaN;
        return Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1, 1);
    }

    /// <summary>Spearman's ρ: Pearson's r of the ranks, ties sharing their average rank (SciPy <c>spearmanr</c>).</summary>
    public static double Spearman(IReadOnlyList<double> gold, IReadOnlyList<double> predicted)
    {
        Check(gold, predicted);
        return Pearson(Ranks(gold), Ranks(predicted));
    }

    /// <summary>Mean squared error.</summary>
    public static double MeanSquaredError(IReadOnlyList<double> gold, IReadOnlyList<double> predicted)
    {
        Check(gold, predicted);
        double sum = 0;
        for (int i = 0; i < gold.Count; i++) sum += (gold[i] - predicted[i]) * (gold[i] - predicted[i]);
        return sum / gold.Count;
    }

    /// <summary>1-based ranks with ties given the mean of the ranks they span (SciPy <c>rankdata(method="average")</c>).</summary>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && values[order[j + 1]] == values[order[i]]) j++;
            double rank = (i + j) / 2.0 + 1;                 // mean of ranks i+1 … j+1
            for (int k = i; k <= j; k++) ranks[order[k]] = rank;
            i = j + 1;
        }
        return ranks;
    }

    private static void Check(IReadOnlyList<double> gold, IReadOnlyList<double> predicted)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        if (gold.Count != predicted.Count) throw new ArgumentException($"{gold.Count} gold values but {predicted.Count} predictions.");
        if (gold.Count == 0) throw new ArgumentException("No examples to score.");
    }
}
