using System.Text.Json;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>A JSON value of <c>tokenizer.json</c> with its path, so that every error names the file and the key.</summary>
internal readonly record struct JsonNode(JsonElement Element, string Path, string File)
{
    /// <summary>The component's <c>type</c> string.</summary>
    public string Type => RequiredString("type");

    /// <summary>A <see cref="TokenizerException"/> naming the file and this node's path.</summary>
    public TokenizerException Error(string message) => new($"'{File}': {Path}: {message}");

    /// <summary>The error for a component type this library does not implement.</summary>
    public TokenizerException Unsupported(string kind, string supported) =>
        Error($"{kind} type '{Type}' is not supported (supported: {supported}).");

    /// <summary>Whether the object has a non-null property <paramref name="name"/>.</summary>
    public bool Has(string name) =>
        Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>The child <paramref name="name"/>, or <c>null</c> when absent or null.</summary>
    public JsonNode? Child(string name)
    {
        if (Element.ValueKind != JsonValueKind.Object)
        {
            throw Error($"must be a JSON object, not {Element.ValueKind}.");
        }

        return Element.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null
            ? new JsonNode(v, $"{Path}.{name}", File)
            : null;
    }

    /// <summary>The required child <paramref name="name"/>.</summary>
    public JsonNode Required(string name) => Child(name) ?? throw Error($"'{name}' is missing.");

    /// <summary>The elements of this array.</summary>
    public IEnumerable<JsonNode> Items()
    {
        if (Element.ValueKind != JsonValueKind.Array)
        {
            throw Error($"must be a JSON array, not {Element.ValueKind}.");
        }

        int i = 0;
        foreach (JsonElement e in Element.EnumerateArray())
        {
            yield return new JsonNode(e, $"{Path}[{i++}]", File);
        }
    }

    /// <summary>This value as a string.</summary>
    public string AsString() => Element.ValueKind == JsonValueKind.String
        ? Element.GetString()!
        : throw Error($"must be a string, not {Element.ValueKind}.");

    /// <summary>This value as a non-negative 32-bit integer.</summary>
    public int AsIndex() => Element.ValueKind == JsonValueKind.Number && Element.TryGetInt32(out int v) && v >= 0
        ? v
        : throw Error($"must be a non-negative integer, not {Element.GetRawText()}.");

    /// <summary>This value as a finite double.</summary>
    public double AsDouble() => Element.ValueKind == JsonValueKind.Number && Element.TryGetDouble(out double v) && double.IsFinite(v)
        ? v
        : throw Error($"must be a finite number, not {Element.GetRawText()}.");

    /// <summary>The required string property.</summary>
    public string RequiredString(string name) => Required(name).AsString();

    /// <summary>The string property, or <paramref name="fallback"/> when absent or null.</summary>
    public string? String(string name, string? fallback = null) => Child(name)?.AsString() ?? fallback;

    /// <summary>The boolean property, or <paramref name="fallback"/> when absent or null.</summary>
    public bool Bool(string name, bool fallback)
    {
        JsonNode? child = Child(name);
        if (child is not JsonNode node)
        {
            return fallback;
        }

        return node.Element.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw node.Error($"must be true or false, not {node.Element.GetRawText()}."),
        };
    }

    /// <summary>The integer property, or <c>null</c> when absent or null.</summary>
    public int? Int(string name) => Child(name)?.AsIndex();
}
