namespace DebertaSharp.Training.Metrics;

/// <summary>Scores of single-label classification over class indices (as scikit-learn computes them).</summary>
public static class ClassificationMetrics
{
    /// <summary>Share of predictions equal to the gold class.</summary>
    public static double Accuracy(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        Check(gold, predicted);
        int correct = 0;
        for (int i = 0; i < gold.Count; i++) if (gold[i] == predicted[i]) correct++;
        return (double)correct / gold.Count;
    }

    /// <summary>
    /// Unweighted mean of per-class F1 over the classes that occur in gold or predictions (scikit-learn
    /// <c>f1_score(average="macro")</c>; a class never predicted correctly scores 0).
    /// </summary>
    public static double MacroF1(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        Check(gold, predicted);
        var classes = gold.Concat(predicted).Distinct().ToList();
        double sum = 0;
        foreach (int c in classes)
        {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < gold.Count; i++)
            {
                bool g = gold[i] == c, p = predicted[i] == c;
                if (g && p) tp++;
                else if (p) fp++;
                else if (g) fn++;
            }
            sum += 2.0 * tp / (2 * tp + fp + fn);
        }
        return sum / classes.Count;
    }

    /// <summary>
    /// Matthews correlation coefficient, multi-class form (Gorodkin's R_K, scikit-learn
    /// <c>matthews_corrcoef</c>): (c·s − Σ tₖpₖ) / √((s² − Σ pₖ²)(s² − Σ tₖ²)); 0 when a factor is 0.
    /// </summary>
    public static double MatthewsCorrelation(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        Check(gold, predicted);
        var trueCounts = new Dictionary<int, long>();
        var predCounts = new Dictionary<int, long>();
        long correct = 0, samples = gold.Count;
        for (int i = 0; i < gold.Count; i++)
        {
            trueCounts[gold[i]] = trueCounts.GetValueOrDefault(gold[i]) + 1;
            predCounts[predicted[i]] = predCounts.GetValueOrDefault(predicted[i]) + 1;
            if (gold[i] == predicted[i]) correct++;
        }
        double tp = 0, pp = 0, tt = 0;
        foreach (var (c, t) in trueCounts) { tp += (double)t * predCounts.GetValueOrDefault(c); tt += (double)t * t; }
        foreach (var (_, p) in predCounts) pp += (double)p * p;
        double s2 = (double)samples * samples;
        double covPredPred = s2 - pp, covTrueTrue = s2 - tt;
        if (covPredPred * covTrueTrue == 0) return 0;
        return ((double)correct * samples - tp) / Math.Sqrt(covTrueTrue * covPredPred);
    }

    private static void Check<T>(IReadOnlyList<T> gold, IReadOnlyList<T> predicted)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        if (gold.Count != predicted.Count)
            throw new ArgumentException($"{gold.Count} gold labels but {predicted.Count} predictions.");
        if (gold.Count == 0) throw new ArgumentException("No examples to score.");
    }
}
