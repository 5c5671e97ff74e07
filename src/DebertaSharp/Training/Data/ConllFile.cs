namespace DebertaSharp.Training.Data;

/// <summary>A sentence of a CoNLL-style file: words with one tag each, and the line it starts on (1-based).</summary>
/// <param name="Words">The words.</param>
/// <param name="Tags">One tag per word (<c>O</c>, <c>B-PER</c>, <c>I-PER</c>, …).</param>
/// <param name="Line">The line of the first word.</param>
public sealed record TaggedSentence(IReadOnlyList<string> Words, IReadOnlyList<string> Tags, int Line);

/// <summary>
/// Reads CoNLL-style token files: one token per line, whitespace-separated columns with the word first and the tag
/// in the last column (or a chosen one), blank lines between sentences, <c>-DOCSTART-</c> lines skipped
/// (CoNLL-2003 <c>word POS chunk NER</c> and plain <c>word tag</c> files both work).
/// </summary>
public static class ConllFile
{
    /// <summary>Reads every sentence.</summary>
    /// <param name="path">The file.</param>
    /// <param name="tagColumn">0-based column of the tag; −1 (default) for the last column.</param>
    /// <exception cref="DatasetException">The file is missing or empty, a line has no tag, a line has fewer columns
    /// than <paramref name="tagColumn"/>, or a tag is not <c>O</c> / <c>B-</c>, <c>I-</c>, <c>E-</c>, <c>S-</c> + type
    /// (each names file and line).</exception>
    public static IReadOnlyList<TaggedSentence> Read(string path, int tagColumn = -1)
    {
        string text = TabularFile.ReadText(path);
        var sentences = new List<TaggedSentence>();
        var words = new List<string>();
        var tags = new List<string>();
        int start = 0, lineNumber = 0;
        void Flush()
        {
            if (words.Count > 0) sentences.Add(new TaggedSentence(words.ToArray(), tags.ToArray(), start));
            words.Clear();
            tags.Clear();
        }
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) { Flush(); continue; }
            var columns = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (columns[0] == "-DOCSTART-") { Flush(); continue; }
            if (columns.Length < 2)
                throw new DatasetException($"{path}:{lineNumber}: expected a word and a tag separated by whitespace, got '{line}'.");
            int column = tagColumn < 0 ? columns.Length - 1 : tagColumn;
            if (column >= columns.Length || column == 0)
                throw new DatasetException($"{path}:{lineNumber}: no tag in column {column} ('{line}' has {columns.Length} columns; column 0 is the word).");
            string tag = columns[column];
            if (!IsValidTag(tag))
                throw new DatasetException($"{path}:{lineNumber}: tag '{tag}' is not O or B-/I-/E-/S-<type> (BIO/IOBES tagging is needed for entity-level scores).");
            if (words.Count == 0) start = lineNumber;
            words.Add(columns[0]);
            tags.Add(tag);
        }
        Flush();
        if (sentences.Count == 0) throw new DatasetException($"'{path}' has no tagged sentences.");
        return sentences;
    }

    /// <summary>Whether <paramref name="tag"/> is <c>O</c> or a prefix (<c>B I E S L U</c>) + <c>-</c> + a non-empty type.</summary>
    public static bool IsValidTag(string tag) =>
        tag == "O" || (tag.Length > 2 && "BIESLU".Contains(tag[0], StringComparison.Ordinal) && tag[1] == '-');
}
