namespace DebertaSharp.Diagnostics;

/// <summary>
/// Timings of two measurements taken in alternation (A B A B …), so that slow drift of a shared machine affects both
/// alike; the ratio is taken per pair and its median reported.
/// </summary>
public sealed class PairedTimings
{
    private PairedTimings(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        A = a;
        B = b;
    }

    /// <summary>Milliseconds of each A run, in order.</summary>
    public IReadOnlyList<double> A { get; }

    /// <summary>Milliseconds of each B run, in order.</summary>
    public IReadOnlyList<double> B { get; }

    /// <summary>Median of <see cref="A"/>.</summary>
    public double MedianA => Median(A);

    /// <summary>Median of <see cref="B"/>.</summary>
    public double MedianB => Median(B);

    /// <summary>Median over pairs of A/B.</summary>
    public double MedianRatio => Median(A.Zip(B, (a, b) => a / b).ToList());

    /// <summary>
    /// Runs <paramref name="warmup"/> unrecorded pairs, then <paramref name="pairs"/> recorded pairs of
    /// <paramref name="a"/> then <paramref name="b"/>; each returns the milliseconds it measured itself (so that
    /// setup outside its timed region is not counted).
    /// </summary>
    public static PairedTimings Run(Func<double> a, Func<double> b, int pairs, int warmup = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pairs, 1);
        for (int i = 0; i < warmup; i++)
        {
            a();
            b();
        }
        var ta = new List<double>(pairs);
        var tb = new List<double>(pairs);
        for (int i = 0; i < pairs; i++)
        {
            ta.Add(a());
            tb.Add(b());
        }
        return new PairedTimings(ta, tb);
    }

    /// <summary>The median of <paramref name="values"/> (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        int mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
