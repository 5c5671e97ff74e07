using System.Text.RegularExpressions;

namespace DebertaSharp;

/// <summary>
/// The one naming rule for a file being written before it is renamed over its target: a hidden sibling
/// <c>.&lt;name&gt;.&lt;guid&gt;.tmp</c>. Every writer (atomic files, the tokenizer's files, the Hub cache's refs) names its
/// temporary files so, and folder recovery deletes exactly these leftovers of killed writes.
/// </summary>
internal static partial class TemporaryFiles
{
    [GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex Pattern();

    /// <summary>A fresh temporary path beside <paramref name="target"/> (a full path with a parent folder).</summary>
    public static string Beside(string target) =>
        Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");

    /// <summary>Whether <paramref name="fileName"/> (a name, no folder) is a temporary file of <see cref="Beside"/>.</summary>
    public static bool IsTemporary(string fileName) => Pattern().IsMatch(fileName);
}
