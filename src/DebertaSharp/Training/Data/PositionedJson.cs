using System.Text;
using System.Text.Json;

namespace DebertaSharp.Training.Data;

/// <summary>
/// A JSON value that remembers the line it starts on, so that errors about a record deep inside a file
/// (a SQuAD answer) can name the line. Built with <see cref="Utf8JsonReader"/>, whose token offsets are mapped to lines.
/// </summary>
internal sealed class PositionedJson
{
    private PositionedJson(JsonTokenType kind, int line) { Kind = kind; Line = line; }

    public JsonTokenType Kind { get; }
    public int Line { get; }
    public string? Text { get; private init; }
    public double Number { get; private init; }
    public List<KeyValuePair<string, PositionedJson>>? Properties { get; private init; }
    public List<PositionedJson>? Items { get; private init; }

    public PositionedJson? this[string name] => Properties?.FirstOrDefault(p => p.Key == name).Value;

    public static PositionedJson Parse(string path, byte[] utf8)
    {
        var newlines = new List<long>();
        for (int i = 0; i < utf8.Length; i++) if (utf8[i] == (byte)'\n') newlines.Add(i);
        int LineOf(long offset)
        {
            int index = newlines.BinarySearch(offset);
            return (index < 0 ? ~index : index) + 1;
        }
        // Strings, names and nesting checked first, so that every GetString below succeeds; duplicate keys are refused.
        var text = StrictJson.Validate(utf8, path, (message, inner) => new DatasetException(message, inner), lenient: true);
        var reader = new Utf8JsonReader(text.Span, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read()) throw new DatasetException($"Data file '{path}' is empty.");
            var root = ReadValue(ref reader, LineOf);
            if (reader.Read()) throw new DatasetException($"{path}:{LineOf(reader.TokenStartIndex)}: text after the end of the JSON document.");
            return root;
        }
        catch (JsonException e)
        {
            throw new DatasetException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON ({e.Message}).", e);
        }
    }

    private static PositionedJson ReadValue(ref Utf8JsonReader reader, Func<long, int> lineOf)
    {
        int line = lineOf(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var props = new List<KeyValuePair<string, PositionedJson>>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    props.Add(new(name, ReadValue(ref reader, lineOf)));
                }
                return new PositionedJson(JsonTokenType.StartObject, line) { Properties = props };
            }
            case JsonTokenType.StartArray:
            {
                var items = new List<PositionedJson>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader, lineOf));
                return new PositionedJson(JsonTokenType.StartArray, line) { Items = items };
            }
            case JsonTokenType.String:
                return new PositionedJson(JsonTokenType.String, line) { Text = reader.GetString() };
            case JsonTokenType.Number:
                return new PositionedJson(JsonTokenType.Number, line) { Number = reader.GetDouble(), Text = Encoding.UTF8.GetString(reader.ValueSpan) };
            default:
                return new PositionedJson(reader.TokenType, line) { Text = reader.TokenType switch { JsonTokenType.True => "true", JsonTokenType.False => "false", _ => "null" } };
        }
    }

    public string Describe() => Kind switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        _ => Text ?? "null",
    };
}
