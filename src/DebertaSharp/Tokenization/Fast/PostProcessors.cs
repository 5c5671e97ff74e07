namespace DebertaSharp.Tokenization.Fast;

/// <summary>One token of an encoding being post-processed.</summary>
internal readonly record struct EncodedItem(int Id, string Token, int Start, int End, int TypeId, bool Special, int? SequenceId);

/// <summary>A <c>tokenizer.json</c> post-processor: adds the template's special tokens and sets type ids.</summary>
internal interface IPostProcessor
{
    /// <summary>Number of tokens it adds to a single text or a pair.</summary>
    int AddedTokens(bool pair);

    /// <summary>
    /// The byte-level offset trims it applies (one <c>add_prefix_space</c> flag per trimming step). They are applied
    /// per sequence before truncation, where the text is known: the Rust library counts the trimmed spaces in code points.
    /// </summary>
    IEnumerable<bool> OffsetTrims { get; }

    /// <summary>HF <c>process_encodings</c>: one list per sequence in, the (possibly merged) lists out.</summary>
    List<List<EncodedItem>> Process(List<List<EncodedItem>> encodings, bool addSpecialTokens);
}

/// <summary>Reads the <c>post_processor</c> block.</summary>
internal static class PostProcessors
{
    private const string Supported = "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence";

    public static IPostProcessor Read(JsonNode node) => node.Type switch
    {
        "TemplateProcessing" => TemplateProcessor.Read(node),
        "BertProcessing" => new BertProcessor(Pair(node.Required("cls")), Pair(node.Required("sep"))),
        "RobertaProcessing" => new RobertaProcessor(
            Pair(node.Required("cls")), Pair(node.Required("sep")), node.Bool("trim_offsets", true), node.Bool("add_prefix_space", true)),
        "ByteLevel" => new ByteLevelProcessor(node.Bool("trim_offsets", true), node.Bool("add_prefix_space", true)),
        "Sequence" => new SequenceProcessor([.. node.Required("processors").Items().Select(Read)]),
        _ => throw node.Unsupported("post-processor", Supported),
    };

    /// <summary>HF's default when there is no post-processor: each sequence keeps its tokens, typed by its index.</summary>
    public static List<EncodedItem> Default(List<List<EncodedItem>> encodings) => Merge(SetTypes(encodings));

    /// <summary>What HF's <c>PostProcessor::process</c> does around <c>process_encodings</c>: sequence ids and type ids by index, then merge.</summary>
    public static List<EncodedItem> Apply(IPostProcessor? processor, List<List<EncodedItem>> encodings, bool addSpecialTokens) =>
        processor is null ? Default(encodings) : Merge(processor.Process(SetTypes(encodings), addSpecialTokens));

    public static List<List<EncodedItem>> SetTypes(List<List<EncodedItem>> encodings)
    {
        for (int i = 0; i < encodings.Count; i++)
        {
            encodings[i] = encodings[i].ConvertAll(t => t with { TypeId = i, SequenceId = i });
        }

        return encodings;
    }

    public static List<EncodedItem> Merge(List<List<EncodedItem>> encodings) => [.. encodings.SelectMany(e => e)];

    /// <summary>A special token added by a processor: offsets (0, 0), no sequence.</summary>
    public static EncodedItem SpecialItem(int id, string token, int typeId) => new(id, token, 0, 0, typeId, true, null);

    private static (string Token, int Id) Pair(JsonNode node)
    {
        JsonNode[] parts = [.. node.Items()];
        if (parts.Length != 2)
        {
            throw node.Error("must be [token, id].");
        }

        return (parts[0].AsString(), parts[1].AsIndex());
    }

    /// <summary>
    /// HF's byte-level <c>process_offsets</c> on one sequence: offsets lose the leading/trailing spaces ('Ġ') of their
    /// token, counted in code points of <paramref name="text"/> (the offsets are UTF-16).
    /// </summary>
    public static void TrimOffsets(List<TokenPiece> pieces, string text, bool addPrefixSpace)
    {
        // toPoint[u] = code points before UTF-16 index u; toUnit[c] = UTF-16 index of code point c.
        var toPoint = new int[text.Length + 1];
        var toUnit = new List<int>(text.Length + 1);
        for (int u = 0; u < text.Length;)
        {
            int n = NormalizedText.RuneLength(text, u);
            for (int k = 0; k < n; k++)
            {
                toPoint[u + k] = toUnit.Count;
            }

            toUnit.Add(u);
            u += n;
        }

        toPoint[text.Length] = toUnit.Count;
        toUnit.Add(text.Length);
        static bool IsSpace(char c) => c == '\u0120' || char.IsWhiteSpace(c);
        for (int i = 0; i < pieces.Count; i++)
        {
            TokenPiece t = pieces[i];
            int leading = 0;
            while (leading < t.Token.Length && IsSpace(t.Token[leading]))
            {
                leading++;
            }

            int trailing = 0;
            while (trailing < t.Token.Length && IsSpace(t.Token[t.Token.Length - 1 - trailing]))
            {
                trailing++;
            }

            if (leading == 0 && trailing == 0)
            {
                continue;
            }

            int start = toPoint[t.Start], end = toPoint[t.End];
            if (leading > 0)
            {
                bool first = i == 0 || start == 0;
                if (first && addPrefixSpace && leading == 1)
                {
                    leading = 0;
                }

                start = Math.Min(start + leading, end);
            }

            if (trailing > 0 && end >= trailing)
            {
                end = Math.Max(end - trailing, start);
            }

            pieces[i] = t with { Start = toUnit[start], End = toUnit[end] };
        }
    }
}

/// <summary>HF <c>TemplateProcessing</c>: <c>single</c> / <c>pair</c> templates of special tokens and sequences, each with a type id.</summary>
internal sealed class TemplateProcessor : IPostProcessor
{
    private readonly List<Piece> _single;
    private readonly List<Piece> _pair;
    private readonly Dictionary<string, (int[] Ids, string[] Tokens)> _specials;

    private TemplateProcessor(List<Piece> single, List<Piece> pair, Dictionary<string, (int[], string[])> specials)
    {
        _single = single;
        _pair = pair;
        _specials = specials;
    }

    public static TemplateProcessor Read(JsonNode node)
    {
        var specials = new Dictionary<string, (int[], string[])>(StringComparer.Ordinal);
        if (node.Child("special_tokens") is JsonNode map)
        {
            if (map.Element.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                throw map.Error("must be an object mapping names to {id, ids, tokens}.");
            }

            foreach (System.Text.Json.JsonProperty p in map.Element.EnumerateObject())
            {
                var entry = new JsonNode(p.Value, $"{map.Path}[\"{p.Name}\"]", map.File);
                int[] ids = [.. entry.Required("ids").Items().Select(x => x.AsIndex())];
                string[] tokens = [.. entry.Required("tokens").Items().Select(x => x.AsString())];
                if (ids.Length != tokens.Length)
                {
                    throw entry.Error($"has {ids.Length} ids but {tokens.Length} tokens.");
                }

                specials[p.Name] = (ids, tokens);
            }
        }

        List<Piece> single = ReadTemplate(node.Required("single"), specials);
        List<Piece> pair = ReadTemplate(node.Required("pair"), specials);
        return new TemplateProcessor(single, pair, specials);
    }

    public IEnumerable<bool> OffsetTrims => [];

    public int AddedTokens(bool pair) =>
        (pair ? _pair : _single).Where(p => p.Special is not null).Sum(p => _specials[p.Special!].Ids.Length);

    public List<List<EncodedItem>> Process(List<List<EncodedItem>> encodings, bool addSpecialTokens)
    {
        List<Piece> template = encodings.Count == 2 ? _pair : _single;
        var result = new List<List<EncodedItem>>();
        foreach (Piece piece in template)
        {
            if (piece.Special is string name)
            {
                if (addSpecialTokens)
                {
                    (int[] ids, string[] tokens) = _specials[name];
                    result.Add([.. ids.Select((id, k) => PostProcessors.SpecialItem(id, tokens[k], piece.TypeId))]);
                }
            }
            else
            {
                int i = piece.Sequence;
                if (i >= encodings.Count)
                {
                    throw new TokenizerException($"The {(encodings.Count == 2 ? "pair" : "single")} template uses sequence B, but there is no second text.");
                }

                result.Add(encodings[i].ConvertAll(t => t with { TypeId = piece.TypeId, SequenceId = i }));
            }
        }

        return result;
    }

    private static List<Piece> ReadTemplate(JsonNode node, Dictionary<string, (int[], string[])> specials)
    {
        var pieces = new List<Piece>();
        foreach (JsonNode item in node.Items())
        {
            Piece piece;
            if (item.Child("SpecialToken") is JsonNode st)
            {
                piece = new Piece(st.RequiredString("id"), 0, st.Int("type_id") ?? 0);
            }
            else if (item.Child("Sequence") is JsonNode sq)
            {
                string id = sq.RequiredString("id");
                piece = new Piece(null, id switch
                {
                    "A" => 0,
                    "B" => 1,
                    _ => throw sq.Error($"sequence id '{id}' is not A or B."),
                }, sq.Int("type_id") ?? 0);
            }
            else
            {
                throw item.Error("a template piece must be {\"SpecialToken\": ...} or {\"Sequence\": ...}.");
            }

            pieces.Add(Check(piece, item, specials));
        }

        return pieces;
    }

    private static Piece Check(Piece piece, JsonNode node, Dictionary<string, (int[], string[])> specials) =>
        piece.Special is string name && !specials.ContainsKey(name)
            ? throw node.Error($"special token '{name}' is used in the template but missing from special_tokens.")
            : piece;

    private sealed record Piece(string? Special, int Sequence, int TypeId);
}

/// <summary>HF <c>BertProcessing</c>: <c>[CLS] A [SEP]</c> and <c>B [SEP]</c> typed 1.</summary>
internal sealed class BertProcessor((string Token, int Id) cls, (string Token, int Id) sep) : IPostProcessor
{
    public int AddedTokens(bool pair) => pair ? 3 : 2;

    public IEnumerable<bool> OffsetTrims => [];

    public List<List<EncodedItem>> Process(List<List<EncodedItem>> encodings, bool addSpecialTokens)
    {
        if (!addSpecialTokens)
        {
            return encodings;
        }

        var result = new List<List<EncodedItem>>();
        for (int i = 0; i < encodings.Count; i++)
        {
            var e = new List<EncodedItem>();
            if (i == 0)
            {
                e.Add(PostProcessors.SpecialItem(cls.Id, cls.Token, 0));
            }

            e.AddRange(encodings[i]);
            e.Add(PostProcessors.SpecialItem(sep.Id, sep.Token, i));
            result.Add(e);
        }

        return result;
    }
}

/// <summary>HF <c>RobertaProcessing</c>: <c>&lt;s&gt; A &lt;/s&gt;</c> and <c>&lt;/s&gt; B &lt;/s&gt;</c>, every type id 0, optional offset trimming.</summary>
internal sealed class RobertaProcessor((string Token, int Id) cls, (string Token, int Id) sep, bool trimOffsets, bool addPrefixSpace) : IPostProcessor
{
    public int AddedTokens(bool pair) => pair ? 4 : 2;

    public IEnumerable<bool> OffsetTrims => trimOffsets ? [addPrefixSpace] : [];

    public List<List<EncodedItem>> Process(List<List<EncodedItem>> encodings, bool addSpecialTokens)
    {
        var typed = new List<List<EncodedItem>>();
        foreach (List<EncodedItem> e in encodings)
        {
            typed.Add(e.ConvertAll(x => x with { TypeId = 0 }));
        }

        if (!addSpecialTokens)
        {
            return typed;
        }

        var result = new List<List<EncodedItem>>();
        for (int i = 0; i < typed.Count; i++)
        {
            var e = new List<EncodedItem> { i == 0 ? PostProcessors.SpecialItem(cls.Id, cls.Token, 0) : PostProcessors.SpecialItem(sep.Id, sep.Token, 0) };
            e.AddRange(typed[i]);
            e.Add(PostProcessors.SpecialItem(sep.Id, sep.Token, 0));
            result.Add(e);
        }

        return result;
    }
}

/// <summary>HF's <c>ByteLevel</c> post-processor: only trims offsets.</summary>
internal sealed class ByteLevelProcessor(bool trimOffsets, bool addPrefixSpace) : IPostProcessor
{
    public int AddedTokens(bool pair) => 0;

    public IEnumerable<bool> OffsetTrims => trimOffsets ? [addPrefixSpace] : [];

    public List<List<EncodedItem>> Process(List<List<EncodedItem>> encodings, bool addSpecialTokens) => encodings;
}

internal sealed class SequenceProcessor(IReadOnlyList<IPostProcessor> parts) : IPostProcessor
{
    public int AddedTokens(bool pair) => parts.Sum(p => p.AddedTokens(pair));

    public IEnumerable<bool> OffsetTrims => parts.SelectMany(p => p.OffsetTrims);

    public List<List<EncodedItem>> Process(List<List<EncodedItem>> encodings, bool addSpecialTokens)
    {
        foreach (IPostProcessor p in parts)
        {
            encodings = p.Process(encodings, addSpecialTokens);
        }

        return encodings;
    }
}
