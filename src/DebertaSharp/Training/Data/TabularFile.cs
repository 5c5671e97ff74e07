using System.Text;
using System.Text.Json;

namespace DebertaSharp.Training.Data;

/// <summary>The layout of a tabular data file.</summary>
public enum TabularFormat
{
    /// <summary>Comma-separated with a header row; fields may be quoted (RFC 4180: <c>"a, ""b"""</c>, newlines inside quotes).</summary>
    Csv,

    /// <summary>Tab-separated with a header row; one record per line, no quoting (as GLUE's files).</summary>
    Tsv,

    /// <summary>One JSON object per line; keys are the columns, values strings, numbers or booleans.</summary>
    JsonLines,
}

/// <summary>One record of a tabular file: its fields by column name and the line it starts on (1-based).</summary>
/// <param name="Line">The line the record starts on.</param>
/// <param name="Fields">Field text by column name (numbers and booleans of JSON lines as their JSON text; null as <c>null</c>).</param>
public sealed record TabularRecord(int Line, IReadOnlyDictionary<string, string?> Fields);

/// <summary>A whole tabular file: its columns and records.</summary>
/// <param name="Path">The file read.</param>
/// <param name="Columns">Column names in file order (JSON lines: every key seen, in first-seen order).</param>
/// <param name="Records">The records in file order.</param>
public sealed record TabularData(string Path, IReadOnlyList<string> Columns, IReadOnlyList<TabularRecord> Records)
{
    /// <summary>Checks that each of <paramref name="columns"/> exists.</summary>
    /// <exception cref="DatasetException">A column is missing (the message lists the columns there are).</exception>
    public void RequireColumns(params string?[] columns)
    {
        foreach (var c in columns)
            if (c is not null && !Columns.Contains(c, StringComparer.Ordinal))
                throw new DatasetException($"'{Path}' has no column '{c}' (its columns: {string.Join(", ", Columns.Select(x => $"'{x}'"))}).");
    }

    /// <summary>The field of <paramref name="record"/> in <paramref name="column"/>, required to be present and not null.</summary>
    /// <exception cref="DatasetException">The record lacks it (the message names file and line).</exception>
    public string Field(TabularRecord record, string column) =>
        record.Fields.TryGetValue(column, out var value) && value is not null
            ? value
            : throw new DatasetException($"{Path}:{record.Line}: the record has no value in column '{column}'.");
}

/// <summary>Reads CSV, TSV and JSON-lines files with line numbers in every error.</summary>
public static class TabularFile
{
    /// <summary>The format a file name implies: <c>.csv</c>, <c>.tsv</c>/<c>.tab</c>, <c>.jsonl</c>/<c>.ndjson</c>/<c>.json</c>.</summary>
    /// <exception cref="DatasetException">Another extension.</exception>
    public static TabularFormat FormatOf(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => TabularFormat.Csv,
        ".tsv" or ".tab" => TabularFormat.Tsv,
        ".jsonl" or ".ndjson" or ".json" => TabularFormat.JsonLines,
        var ext => throw new DatasetException($"'{path}': cannot tell the format from the extension '{ext}'; use .csv, .tsv or .jsonl."),
    };

    /// <summary>Reads the file; the format follows the extension unless given.</summary>
    /// <exception cref="DatasetException">The file is missing or empty, a row has the wrong number of fields,
    /// a quote is not closed, a line is not a JSON object (each names file and line).</exception>
    public static TabularData Read(string path, TabularFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fmt = format ?? FormatOf(path);
        string text = ReadText(path);
        var data = fmt switch
        {
            TabularFormat.Csv => ReadDelimited(path, text, ',', quoting: true),
            TabularFormat.Tsv => ReadDelimited(path, text, '\t', quoting: false),
            _ => ReadJsonLines(path, text),
        };
        if (data.Records.Count == 0)
            throw new DatasetException($"'{path}' has no records{(data.Columns.Count > 0 && fmt != TabularFormat.JsonLines ? " (only a header)" : "")}.");
        return data;
    }

    internal static string ReadText(string path)
    {
        if (!File.Exists(path)) throw new DatasetException($"Data file '{path}' does not exist.");
        string text;
        try { text = File.ReadAllText(path, new UTF8Encoding(false, true)); }
        catch (DecoderFallbackException e) { throw new DatasetException($"'{path}' is not valid UTF-8 ({e.Message}).", e); }
        catch (IOException e) { throw new DatasetException($"Cannot read '{path}': {e.Message}", e); }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        if (string.IsNullOrWhiteSpace(text)) throw new DatasetException($"Data file '{path}' is empty.");
        return text;
    }

    private static TabularData ReadDelimited(string path, string text, char delimiter, bool quoting)
    {
        var rows = quoting ? SplitQuoted(path, text, delimiter) : SplitPlain(text, delimiter);
        if (rows.Count == 0) throw new DatasetException($"Data file '{path}' is empty.");
        var (headerLine, header) = rows[0];
        var columns = header.Select(h => h.Trim()).ToList();
        var dup = columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new DatasetException($"{path}:{headerLine}: column '{dup.Key}' appears twice in the header.");
        if (columns.Any(c => c.Length == 0)) throw new DatasetException($"{path}:{headerLine}: the header has an empty column name.");
        var records = new List<TabularRecord>(rows.Count - 1);
        foreach (var (line, fields) in rows.Skip(1))
        {
            if (fields.Count != columns.Count)
                throw new DatasetException($"{path}:{line}: expected {columns.Count} fields ({string.Join(", ", columns)}) but found {fields.Count}.");
            var map = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (int i = 0; i < columns.Count; i++) map[columns[i]] = fields[i];
            records.Add(new TabularRecord(line, map));
        }
        return new TabularData(path, columns, records);
    }

    // One record per non-empty line.
    private static List<(int Line, List<string> Fields)> SplitPlain(string text, char delimiter)
    {
        var rows = new List<(int, List<string>)>();
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (line.Length == 0) continue;
            rows.Add((lineNumber, line.Split(delimiter).ToList()));
        }
        return rows;
    }

    // RFC 4180: quoted fields may hold delimiters, doubled quotes and line breaks. Blank lines are skipped.
    private static List<(int Line, List<string> Fields)> SplitQuoted(string path, string text, char delimiter)
    {
        var rows = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1;
        bool inQuotes = false, fieldQuoted = false, rowHasContent = false;
        int quoteLine = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inQuotes)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                    else inQuotes = false;
                }
                else
                {
                    if (c == '\n') line++;
                    field.Append(c);
                }
                continue;
            }
            if (c == '"' && field.Length == 0 && !fieldQuoted)
            {
                inQuotes = fieldQuoted = rowHasContent = true;
                quoteLine = line;
            }
            else if (c == '"')
            {
                throw new DatasetException($"{path}:{line}: a quote inside an unquoted field (quote the whole field and double the quote: \"\").");
            }
            else if (c == delimiter)
            {
                fields.Add(field.ToString());
                field.Clear();
                fieldQuoted = false;
                rowHasContent = true;
            }
            else if (c == '\n' || c == '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                if (rowHasContent || field.Length > 0)
                {
                    fields.Add(field.ToString());
                    rows.Add((recordLine, fields));
                    fields = [];
                }
                field.Clear();
                fieldQuoted = rowHasContent = false;
                line++;
                recordLine = line;
            }
            else
            {
                if (fieldQuoted) throw new DatasetException($"{path}:{line}: text after the closing quote of a field.");
                field.Append(c);
                rowHasContent = true;
            }
        }
        if (inQuotes) throw new DatasetException($"{path}:{quoteLine}: a quoted field is never closed.");
        if (rowHasContent || field.Length > 0)
        {
            fields.Add(field.ToString());
            rows.Add((recordLine, fields));
        }
        return rows;
    }

    private static TabularData ReadJsonLines(string path, string text)
    {
        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var records = new List<TabularRecord>();
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0) continue;
            // The file was decoded strictly already; lone surrogate escapes and duplicate keys are caught here.
            using (JsonDocument doc = StrictJson.Parse(Encoding.UTF8.GetBytes(line), path,
                (message, inner) => new DatasetException(message, inner), firstLine: lineNumber))
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DatasetException($"{path}:{lineNumber}: each line must be a JSON object, got {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
                var map = new Dictionary<string, string?>(StringComparer.Ordinal);
                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    map[p.Name] = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString(),
                        JsonValueKind.Null => null,
                        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                        _ => p.Value.GetRawText(),     // arrays/objects: raw JSON (e.g. a list of tags)
                    };
                    if (seen.Add(p.Name)) columns.Add(p.Name);
                }
                records.Add(new TabularRecord(lineNumber, map));
            }
        }
        return new TabularData(path, columns, records);
    }
}
