using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DebertaSharp;

/// <summary>
/// The one JSON reading path of DebertaSharp: every JSON file it reads (safetensors headers, sharded indexes,
/// <c>config.json</c>, tokenizer JSON files, <c>vocab.json</c>, JSONL and SQuAD data, trainer state) goes through here.
/// The rules, checked in one pass before a document is built:
/// <list type="bullet">
/// <item>the bytes are valid UTF-8 (a leading BOM is skipped) and every string and name decodes to valid UTF-16
/// (a lone surrogate escape such as <c>"\ud800"</c> is refused: System.Text.Json would otherwise accept it and throw
/// <see cref="InvalidOperationException"/> only when the value is read);</item>
/// <item>a name appears at most once per object. Python's <c>json</c> keeps the last value silently; a file with two
/// values for one key is ambiguous (two tensors of one name, two <c>num_labels</c>), so it is refused, naming the key;</item>
/// <item>nesting is at most <see cref="MaxDepth"/> levels and the file at most the caller's byte limit.</item>
/// </list>
/// Errors are the caller's <see cref="DebertaSharpException"/> subclass and read
/// <c>&lt;file&gt;:&lt;line&gt;: not valid JSON: &lt;what&gt;</c>.
/// </summary>
internal static class StrictJson
{
    /// <summary>The deepest nesting accepted; HF files nest three or four levels.</summary>
    public const int MaxDepth = 64;

    /// <summary>Builds the caller's exception type from a complete message and the underlying cause.</summary>
    public delegate DebertaSharpException ErrorFactory(string message, Exception inner);

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads a whole file of at most <paramref name="maxBytes"/> bytes, errors naming it.</summary>
    public static byte[] ReadFile(string path, long maxBytes, ErrorFactory error)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > maxBytes)
                throw Fail(error, $"'{path}' has {stream.Length} bytes, above the {maxBytes}-byte limit for this file.");
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw error($"Cannot read '{path}': {e.Message}", e);
        }
    }

    /// <summary>Parses a file into a document (the caller disposes it).</summary>
    public static JsonDocument ParseFile(string path, long maxBytes, ErrorFactory error, bool lenient = false, bool comments = true) =>
        Parse(ReadFile(path, maxBytes, error), path, error, lenient, comments: comments);

    /// <summary>Parses UTF-8 bytes into a document (the caller disposes it).</summary>
    /// <param name="utf8">The JSON text.</param>
    /// <param name="source">Names the file in errors.</param>
    /// <param name="error">Makes the caller's exception type.</param>
    /// <param name="lenient">Allow comments and trailing commas (HF's Python loaders do not, but hand-edited files have them).</param>
    /// <param name="firstLine">The line number of the first byte, for a record cut out of a larger file (JSONL).</param>
    /// <param name="comments">With <paramref name="lenient"/>: comments too (false: trailing commas only).</param>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string source, ErrorFactory error, bool lenient = false, int firstLine = 1, bool comments = true)
    {
        utf8 = Validate(utf8, source, error, lenient, firstLine, comments);
        try
        {
            return JsonDocument.Parse(utf8, new JsonDocumentOptions
            {
                AllowTrailingCommas = lenient,
                CommentHandling = lenient && comments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow,
                MaxDepth = MaxDepth,
            });
        }
        catch (JsonException e)
        {
            throw error(Message(source, (int)(e.LineNumber ?? 0) + firstLine, e.Message), e);
        }
    }

    /// <summary>Parses UTF-8 bytes into a mutable node tree.</summary>
    /// <inheritdoc cref="Parse(ReadOnlyMemory{byte}, string, ErrorFactory, bool, int, bool)"/>
    public static JsonNode? ParseNode(ReadOnlyMemory<byte> utf8, string source, ErrorFactory error, bool lenient = false, bool comments = true)
    {
        utf8 = Validate(utf8, source, error, lenient, 1, comments);
        try
        {
            return JsonNode.Parse(utf8.Span, documentOptions: new JsonDocumentOptions
            {
                AllowTrailingCommas = lenient,
                CommentHandling = lenient && comments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow,
                MaxDepth = MaxDepth,
            });
        }
        catch (JsonException e)
        {
            throw error(Message(source, (int)(e.LineNumber ?? 0) + 1, e.Message), e);
        }
    }

    /// <summary>Encodes JSON text held in a string, refusing unpaired surrogates instead of replacing them.</summary>
    public static byte[] Encode(string json, string source, ErrorFactory error)
    {
        try
        {
            return StrictUtf8.GetBytes(json);
        }
        catch (EncoderFallbackException e)
        {
            throw error($"'{source}': not valid JSON: the text holds an unpaired surrogate character at index {e.Index}.", e);
        }
    }

    /// <summary>
    /// Checks the rules of this class over the whole text and returns it without a leading BOM. Readers that walk
    /// the tokens themselves (SQuAD with line numbers) call this first and can then read every string safely.
    /// </summary>
    public static ReadOnlyMemory<byte> Validate(ReadOnlyMemory<byte> utf8, string source, ErrorFactory error, bool lenient, int firstLine = 1, bool comments = true)
    {
        ReadOnlySpan<byte> span = utf8.Span;
        if (span.Length >= 3 && span[0] == 0xEF && span[1] == 0xBB && span[2] == 0xBF)
        {
            utf8 = utf8[3..];
            span = utf8.Span;
        }
        if (!System.Text.Unicode.Utf8.IsValid(span))
        {
            int bad = FirstInvalidUtf8(span);
            throw Fail(error, Message(source, LineAt(span, bad) + firstLine - 1, $"the bytes at offset {bad} are not valid UTF-8"));
        }
        var reader = new Utf8JsonReader(span, new JsonReaderOptions
        {
            AllowTrailingCommas = lenient,
            CommentHandling = lenient && comments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow,
            MaxDepth = MaxDepth,
        });
        // One set of names per open object; arrays push null.
        var names = new Stack<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        names.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.StartArray:
                        names.Push(null);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        names.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                    {
                        string name = Decode(ref reader, span, source, error, firstLine, "name");
                        if (!names.Peek()!.Add(name))
                            throw Fail(error, Message(source, LineAt(span, (int)reader.TokenStartIndex) + firstLine - 1,
                                $"the key '{name}' appears twice in one object"));
                        break;
                    }
                    case JsonTokenType.String:
                        Decode(ref reader, span, source, error, firstLine, "string");
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            throw error(Message(source, (int)(e.LineNumber ?? 0) + firstLine, e.Message), e);
        }
        return utf8;
    }

    private static string Decode(ref Utf8JsonReader reader, ReadOnlySpan<byte> span, string source, ErrorFactory error, int firstLine, string what)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw error(Message(source, LineAt(span, (int)reader.TokenStartIndex) + firstLine - 1,
                $"a {what} holds an invalid escape or character (a lone UTF-16 surrogate such as \\ud800?): {e.Message}"), e);
        }
    }

    private static DebertaSharpException Fail(ErrorFactory error, string message) => error(message, new JsonException(message));

    private static string Message(string source, int line, string detail) => $"{source}:{line}: not valid JSON: {detail}";

    private static int LineAt(ReadOnlySpan<byte> span, int offset)
    {
        offset = Math.Clamp(offset, 0, span.Length);
        return span[..offset].Count((byte)'\n') + 1;
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> span)
    {
        // Utf8.IsValid says only yes or no; find the first bad sequence by decoding.
        var status = System.Text.Unicode.Utf8.ToUtf16(span, new char[span.Length], out int read, out _, replaceInvalidSequences: false);
        return status == System.Buffers.OperationStatus.Done ? span.Length : read;
    }
}
