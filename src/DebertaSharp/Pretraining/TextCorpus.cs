using DebertaSharp.Tokenization;

namespace DebertaSharp.Pretraining;

/// <summary>
/// A plain-text corpus read line by line, never whole: each non-blank line is one document (as in the original
/// microsoft/DeBERTa MLM and RTD tasks). Paths may be files or folders. A file named directly is read whatever its
/// name; below a folder only files with a text extension (<see cref="DefaultExtensions"/>, or the list given) are
/// read, in ordinal order, and the others are listed in <see cref="Skipped"/> — so a checkpoint's <c>config.json</c>,
/// <c>README.md</c> or <c>spm.model</c> lying in the folder never becomes training text. Binary files (a NUL byte or
/// invalid UTF-8 in the first 8 KiB) are skipped below folders and refused when named.
/// </summary>
public sealed class TextCorpus
{
    /// <summary>File extensions read from corpus folders by default: <c>.txt</c>, <c>.text</c>, <c>.raw</c>, <c>.tokens</c> (WikiText).</summary>
    public static readonly IReadOnlyList<string> DefaultExtensions = [".txt", ".text", ".raw", ".tokens"];

    private const int SniffBytes = 8192;

    /// <summary>Resolves <paramref name="paths"/> into the corpus files, reading <see cref="DefaultExtensions"/> from folders.</summary>
    /// <exception cref="DatasetException">No path, a path that does not exist, a named binary file, or folders without text files.</exception>
    public TextCorpus(IEnumerable<string> paths)
        : this(paths, null)
    {
    }

    /// <summary>Resolves <paramref name="paths"/> into the corpus files, reading files with one of <paramref name="extensions"/> from folders.</summary>
    /// <param name="paths">Files and folders.</param>
    /// <param name="extensions">Extensions taken from folders (".txt" or "txt", case-insensitive); <c>null</c> for <see cref="DefaultExtensions"/>.</param>
    /// <exception cref="DatasetException">No path or no extension, a path that does not exist, a named binary file, or folders without text files.</exception>
    public TextCorpus(IEnumerable<string> paths, IEnumerable<string>? extensions)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var accepted = (extensions ?? DefaultExtensions)
            .Select(e => e.Trim()).Where(e => e.Length > 0)
            .Select(e => e.StartsWith('.') ? e : "." + e)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (accepted.Count == 0) throw new DatasetException("No corpus file extensions given.");
        var files = new List<string>();
        var skipped = new List<SkippedCorpusFile>();
        var given = paths.ToList();
        if (given.Count == 0) throw new DatasetException("No corpus files given.");
        foreach (string path in given)
        {
            if (File.Exists(path))
            {
                if (BinaryReason(path) is { } reason) throw new DatasetException($"Corpus file '{path}' is not text: {reason}.");
                files.Add(Path.GetFullPath(path));
            }
            else if (Directory.Exists(path))
            {
                foreach (string file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Select(Path.GetFullPath).Order(StringComparer.Ordinal))
                {
                    string? reason = !accepted.Contains(Path.GetExtension(file))
                        ? $"extension '{Path.GetExtension(file)}' is not one of {string.Join(", ", accepted.Order(StringComparer.Ordinal))}"
                        : BinaryReason(file);
                    if (reason is null) files.Add(file);
                    else skipped.Add(new SkippedCorpusFile(file, reason));
                }
            }
            else throw new DatasetException($"Corpus path '{path}' does not exist.");
        }
        if (files.Count == 0)
            throw new DatasetException($"The corpus {string.Join(", ", given)} holds no text files"
                + (skipped.Count > 0 ? $" ({skipped.Count} skipped, e.g. '{skipped[0].File}': {skipped[0].Reason})." : "."));
        Files = files;
        Skipped = skipped;
    }

    /// <summary>The corpus files, in reading order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Files found below the corpus folders and not read, with the reason.</summary>
    public IReadOnlyList<SkippedCorpusFile> Skipped { get; }

    /// <summary>Why the start of <paramref name="file"/> is not UTF-8 text, or <c>null</c> when it is.</summary>
    private static string? BinaryReason(string file)
    {
        var buffer = new byte[SniffBytes];
        int n;
        bool whole;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None))
        {
            n = stream.ReadAtLeast(buffer, SniffBytes, throwOnEndOfStream: false);
            whole = n < SniffBytes || stream.Position == stream.Length;
        }

        var head = buffer.AsSpan(0, n);
        if (head.IndexOf((byte)0) >= 0) return "it holds NUL bytes (binary)";
        // A multi-byte character may straddle the end of the sample: allow up to 3 cut bytes there.
        for (int cut = 0; cut <= (whole ? 0 : Math.Min(3, n)); cut++)
        {
            if (System.Text.Unicode.Utf8.IsValid(head[..(n - cut)])) return null;
        }
        return "it is not valid UTF-8 (binary)";
    }

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

/// <summary>A file below a corpus folder that <see cref="TextCorpus"/> did not read.</summary>
/// <param name="File">Its full path.</param>
/// <param name="Reason">Why: its extension, or binary content.</param>
public sealed record SkippedCorpusFile(string File, string Reason);
