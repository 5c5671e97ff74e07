using System.Text;
using System.Text.RegularExpressions;

namespace DebertaSharp.Training.Metrics;

/// <summary>
/// The official SQuAD scores: exact match and token-overlap F1 after normalisation (lower case, ASCII punctuation
/// removed, the articles a/an/the removed, whitespace collapsed), the best over the gold answers, in percent.
/// An unanswerable question (no gold answer) scores 100 only for an empty prediction (SQuAD 2.0).
/// </summary>
public static partial class SquadMetrics
{
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    [GeneratedRegex(@"\b(a|an|the)\b")]
    private static partial Regex Articles();

    /// <summary>The normalised answer text both scores compare.</summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
            if (!Punctuation.Contains(c, StringComparison.Ordinal)) sb.Append(c);
        string noArticles = Articles().Replace(sb.ToString(), " ");
        return string.Join(' ', noArticles.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>1 if the normalised texts are equal, else 0.</summary>
    public static double ExactMatch(string prediction, string gold) => Normalize(prediction) == Normalize(gold) ? 1 : 0;

    /// <summary>Token-overlap F1 of the normalised texts (1 if both are empty, 0 if only one is).</summary>
    public static double F1(string prediction, string gold)
    {
        var p = Normalize(prediction).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var g = Normalize(gold).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (p.Length == 0 || g.Length == 0) return p.Length == g.Length ? 1 : 0;
        var counts = g.GroupBy(t => t, StringComparer.Ordinal).ToDictionary(x => x.Key, x => x.Count(), StringComparer.Ordinal);
        int same = 0;
        foreach (var t in p)
        {
            if (counts.TryGetValue(t, out int n) && n > 0)
            {
                same++;
                counts[t] = n - 1;
            }
        }
        if (same == 0) return 0;
        double precision = (double)same / p.Length, recall = (double)same / g.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>Mean exact match and F1 in percent (0–100) over questions; each takes its best gold answer.</summary>
    /// <param name="predictions">One predicted answer per question ("" for "no answer").</param>
    /// <param name="golds">The gold answers per question (empty for an unanswerable one).</param>
    public static (double ExactMatch, double F1) Score(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> golds)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(golds);
        if (predictions.Count != golds.Count) throw new ArgumentException($"{golds.Count} questions but {predictions.Count} predictions.");
        if (predictions.Count == 0) throw new ArgumentException("No questions to score.");
        double em = 0, f1 = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            IReadOnlyList<string> gold = golds[i].Count == 0 ? [""] : golds[i];
            em += gold.Max(g => ExactMatch(predictions[i], g));
            f1 += gold.Max(g => F1(predictions[i], g));
        }
        return (100 * em / predictions.Count, 100 * f1 / predictions.Count);
    }
}
