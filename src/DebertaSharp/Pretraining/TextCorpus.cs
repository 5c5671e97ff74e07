using DebertaSharp.Tokenization;

namespace DebertaSharp.Pretraining;

/// <summary>
/// A plain-text corpus read line by line, never whole: each non-blank line is one document (as in the original
/// microsoft/DeBERTa MLM and RTD tasks). Paths may be files or folders (every file below a folder, in ordinal order).
/// </summary>
public sealed class TextCorpus
{
    /// <summary>Resolves <paramref name="paths"/> into the corpus files.</summary>
    /// <exception cref="DatasetException">No path, a path that does not exist, or folders without files.</exception>
    public TextCorpus(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        var given = paths.ToList();
        if (given.Count == 0) throw new DatasetException("No corpus files given.");
        foreach (string path in given)
        {
            if (File.Exists(path)) files.Add(Path.GetFullPath(path));
            else if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Select(Path.GetFullPath).Order(StringComparer.Ordinal));
            else throw new DatasetException($"Corpus path '{path}' does not exist.");
        }
        if (files.Count == 0) throw new DatasetException($"The corpus folders {string.Join(", ", given)} contain no files.");
        Files = files;
    }

    /// <summary>The corpus files, in reading order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Streams the non-blank lines with their file and 1-based line number.</summary>
    public IEnumerable<(string File, long Line, string Text)> Lines()
    {
        foreach (string file in Files)
        {
            long number = 0;
            foreach (string line in File.ReadLines(file))
            {
                number++;
                if (!string.IsNullOrWhiteSpace(line)) yield return (file, number, line);
            }
        }
    }

    /// <summary>
    /// Streams tokenised examples: each line's pieces (no template) cut into chunks of at most
    /// <paramref name="maxLength"/> − 2 pieces, each wrapped as <c>[CLS] chunk [SEP]</c>, so long lines are kept whole
    /// across several examples instead of truncated. A chunk's first piece starts a word.
    /// </summary>
    /// <exception cref="DatasetException"><paramref name="maxLength"/> below 3.</exception>
    public IEnumerable<PretrainingSequence> Sequences(DebertaTokenizerBase tokenizer, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxLength < 3) throw new DatasetException($"Maximum sequence length {maxLength} leaves no room for text between [CLS] and [SEP]; use at least 3.");
        return SequencesCore(tokenizer, maxLength);
    }

    private IEnumerable<PretrainingSequence> SequencesCore(DebertaTokenizerBase tokenizer, int maxLength)
    {
        var noTemplate = new EncodeOptions { AddSpecialTokens = false };
        int chunk = maxLength - 2;
        foreach (var (file, line, text) in Lines())
        {
            TokenEncoding encoding;
            try
            {
                encoding = tokenizer.Encode(text, noTemplate);
            }
            catch (TokenizerException ex)
            {
                throw new DatasetException($"{file}:{line}: cannot tokenise the line: {ex.Message}", ex);
            }
            if (encoding.Length == 0) continue;
            var special = encoding.SpecialTokensMask.Select(m => m != 0).ToArray();
            var starts = WordBoundaries.Starts(encoding.Tokens, special);
            for (int from = 0; from < encoding.Length; from += chunk)
            {
                int n = Math.Min(chunk, encoding.Length - from);
                var ids = new int[n + 2];
                var maskable = new bool[n + 2];
                var wordStarts = new bool[n + 2];
                ids[0] = tokenizer.ClsTokenId;
                ids[n + 1] = tokenizer.SepTokenId;
                wordStarts[0] = wordStarts[n + 1] = true;
                for (int i = 0; i < n; i++)
                {
                    ids[i + 1] = encoding.InputIds[from + i];
                    maskable[i + 1] = !special[from + i];
                    wordStarts[i + 1] = i == 0 || starts[from + i];
                }
                yield return new PretrainingSequence { InputIds = ids, Maskable = maskable, WordStarts = wordStarts };
            }
        }
    }
}
