using System.Globalization;

namespace DebertaSharp.Training.Data;

/// <summary>Label names in class-index order, and the lookups datasets need.</summary>
public static class LabelSet
{
    /// <summary>
    /// The distinct labels in the order HF's example scripts give them: numerically when every label is an integer
    /// (so "2" comes before "10"), else ordinal string order.
    /// </summary>
    public static IReadOnlyList<string> Sorted(IEnumerable<string> labels)
    {
        var distinct = labels.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.All(l => long.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
            return distinct.OrderBy(l => long.Parse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ToList();
        return distinct.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Index by label name.</summary>
    /// <exception cref="DatasetException">A label is given twice or the list is empty.</exception>
    public static Dictionary<string, int> Index(IReadOnlyList<string> labels, string source)
    {
        if (labels.Count == 0) throw new DatasetException($"{source}: the label set is empty.");
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++)
            if (!index.TryAdd(labels[i], i)) throw new DatasetException($"{source}: label '{labels[i]}' is given twice.");
        return index;
    }

    /// <summary>The message for a label outside the set.</summary>
    internal static string NotInSet(string where, string label, IReadOnlyList<string> labels) =>
        $"{where}: label '{label}' is not in the label set [{string.Join(", ", labels.Take(20))}{(labels.Count > 20 ? ", …" : "")}]" +
        " (labels come from the training file or the model's id2label; an evaluation file may not add new ones).";
}
