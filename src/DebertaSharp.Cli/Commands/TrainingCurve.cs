using DebertaSharp.Training;

namespace DebertaSharp.Cli.Commands;

/// <summary>Draws the loss / metric curve of a training log as a PNG (ScottPlot on SkiaSharp; no display needed).</summary>
internal static class TrainingCurve
{
    public const string FileName = "training_curve.png";

    /// <summary>
    /// Training loss and evaluation loss against the step on the left axis, <paramref name="metric"/> (e.g.
    /// <c>eval_accuracy</c>) on the right; written to a temporary file and renamed, so a reader never sees half a PNG.
    /// </summary>
    public static void Save(string path, IReadOnlyList<LogEntry> log, string? metric, string title)
    {
        var plot = new ScottPlot.Plot();
        void Line(string key, string label, bool right)
        {
            var points = log.Where(e => e.Values.TryGetValue(key, out var v) && double.IsFinite(v)).ToList();
            if (points.Count == 0) return;
            var line = plot.Add.Scatter(points.Select(p => (double)p.Step).ToArray(), points.Select(p => p.Values[key]).ToArray());
            line.LegendText = label;
            if (right) line.Axes.YAxis = plot.Axes.Right;
        }
        Line("loss", "training loss", right: false);
        Line("eval_loss", "evaluation loss", right: false);
        if (metric is not null && metric != "eval_loss") Line(metric, metric, right: true);
        plot.Title(title);
        plot.XLabel("optimizer step");
        plot.YLabel("loss");
        if (metric is not null && metric != "eval_loss") plot.Axes.Right.Label.Text = metric;
        plot.ShowLegend();

        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, plot.GetImageBytes(800, 480, ScottPlot.ImageFormat.Png));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
