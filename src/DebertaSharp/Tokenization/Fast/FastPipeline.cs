using System.Text.Json;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>
/// A parsed <c>tokenizer.json</c> (format version 1.0) and its encode pipeline for one sequence, as HF's Rust
/// <c>TokenizerImpl::encode_single_sequence</c>: added tokens in the raw text, normalizer, added tokens in the
/// normalized text, pre-tokenizer, model. Every component is read eagerly; one this library lacks is an error naming
/// its type and JSON path.
/// </summary>
internal sealed class FastPipeline
{
    private FastPipeline(
        string path, INormalizer? normalizer, IPreTokenizer? preTokenizer, ITokenizerModel model, IPostProcessor? postProcessor,
        IDecoder? decoder, AddedVocabulary added, JsonTruncation? truncation, JsonPadding? padding)
    {
        Path = path;
        Normalizer = normalizer;
        PreTokenizer = preTokenizer;
        Model = model;
        PostProcessor = postProcessor;
        Decoder = decoder;
        Added = added;
        Truncation = truncation;
        Padding = padding;
    }

    public string Path { get; }

    public INormalizer? Normalizer { get; }

    public IPreTokenizer? PreTokenizer { get; }

    public ITokenizerModel Model { get; }

    public IPostProcessor? PostProcessor { get; }

    public IDecoder? Decoder { get; }

    public AddedVocabulary Added { get; }

    public JsonTruncation? Truncation { get; }

    public JsonPadding? Padding { get; }

    /// <summary>Reads and checks <paramref name="path"/>.</summary>
    /// <exception cref="TokenizerException">The file is unreadable, not JSON, of another version, or uses an unsupported component.</exception>
    public static FastPipeline Load(string path)
    {
        using JsonDocument doc = TokenizerConfig.ParseFile(path);
        var root = new JsonNode(doc.RootElement, "$", path);
        if (root.Element.ValueKind != JsonValueKind.Object)
        {
            throw root.Error("tokenizer.json must be a JSON object.");
        }

        if (root.String("version") is string version && version != "1.0")
        {
            throw root.Error($"tokenizer.json version '{version}' is not supported (1.0).");
        }

        INormalizer? normalizer = root.Child("normalizer") is JsonNode n ? Normalizers.Read(n) : null;
        IPreTokenizer? preTokenizer = root.Child("pre_tokenizer") is JsonNode p ? PreTokenizers.Read(p) : null;
        ITokenizerModel model = Models.Read(root.Required("model"));
        IPostProcessor? post = root.Child("post_processor") is JsonNode pp ? PostProcessors.Read(pp) : null;
        IDecoder? decoder = root.Child("decoder") is JsonNode d ? Decoders.Read(d) : null;

        var tokens = new List<AddedToken>();
        foreach (JsonNode t in root.Child("added_tokens")?.Items() ?? [])
        {
            tokens.Add(new AddedToken(t.RequiredString("content"), t.Int("id") ?? -1)
            {
                SingleWord = t.Bool("single_word", false),
                LStrip = t.Bool("lstrip", false),
                RStrip = t.Bool("rstrip", false),
                Normalized = t.Bool("normalized", true),
                Special = t.Bool("special", false),
            });
        }

        var added = new AddedVocabulary(tokens, model, normalizer);
        JsonTruncation? truncation = root.Child("truncation") is JsonNode tr ? JsonTruncation.Read(tr) : null;
        JsonPadding? padding = root.Child("padding") is JsonNode pd ? JsonPadding.Read(pd) : null;
        return new FastPipeline(path, normalizer, preTokenizer, model, post, decoder, added, truncation, padding);
    }

    /// <summary>Id of a token: added tokens first, then the model vocabulary (HF <c>token_to_id</c>).</summary>
    public int? TokenToId(string token) => Added.TokenToId(token) ?? Model.TokenToId(token);

    /// <summary>Token of an id (HF <c>id_to_token</c>).</summary>
    public string? IdToToken(int id) => Added.ById.TryGetValue(id, out AddedToken? t) ? t.Content : Model.IdToToken(id);

    /// <summary>The tokens of one sequence with spans into <paramref name="text"/> (UTF-16), before post-processing.</summary>
    public void Encode(string text, List<TokenPiece> output)
    {
        var splits = new List<(NormalizedText Text, AddedToken? Token)>();
        foreach (var raw in Added.SplitRaw(new NormalizedText(text, 0, text.Length)))
        {
            if (raw.Token is not null)
            {
                splits.Add(raw);
                continue;
            }

            Normalizer?.Normalize(raw.Text);
            splits.AddRange(Added.SplitNormalized(raw.Text));
        }

        var tokens = new List<ModelToken>();
        foreach ((NormalizedText piece, AddedToken? token) in splits)
        {
            if (token is not null)
            {
                (int s, int e) = piece.ToOriginal(0, piece.Length);
                output.Add(new TokenPiece(token.Id, piece.Text, s, e));
                continue;
            }

            List<NormalizedText> words = PreTokenizer?.Split(piece) ?? [piece];
            foreach (NormalizedText word in words)
            {
                if (word.Length == 0)
                {
                    continue;
                }

                tokens.Clear();
                Model.Tokenize(word.Text, tokens);
                foreach (ModelToken t in tokens)
                {
                    (int s, int e) = word.ToOriginal(t.Start, t.End);
                    output.Add(new TokenPiece(t.Id, t.Value, s, e));
                }
            }
        }

        foreach (bool addPrefixSpace in PostProcessor?.OffsetTrims ?? [])
        {
            PostProcessors.TrimOffsets(output, text, addPrefixSpace);
        }
    }
}

/// <summary>The <c>truncation</c> block of <c>tokenizer.json</c>.</summary>
internal sealed record JsonTruncation(int MaxLength, TruncationStrategy Strategy, int Stride, string Direction)
{
    public static JsonTruncation Read(JsonNode node)
    {
        string strategy = node.String("strategy", "LongestFirst")!;
        return new JsonTruncation(
            node.Required("max_length").AsIndex(),
            strategy switch
            {
                "LongestFirst" => TruncationStrategy.LongestFirst,
                "OnlyFirst" => TruncationStrategy.OnlyFirst,
                "OnlySecond" => TruncationStrategy.OnlySecond,
                _ => throw node.Error($"truncation strategy '{strategy}' is not LongestFirst, OnlyFirst or OnlySecond."),
            },
            node.Int("stride") ?? 0,
            node.String("direction", "Right")!);
    }
}

/// <summary>The <c>padding</c> block of <c>tokenizer.json</c>.</summary>
internal sealed record JsonPadding(int? FixedLength, PaddingSide Side, int? PadToMultipleOf, int PadId, int PadTypeId, string PadToken)
{
    public static JsonPadding Read(JsonNode node)
    {
        int? fixedLength = null;
        JsonNode strategy = node.Required("strategy");
        if (strategy.Element.ValueKind == JsonValueKind.Object && strategy.Child("Fixed") is JsonNode f)
        {
            fixedLength = f.AsIndex();
        }
        else if (strategy.Element.ValueKind != JsonValueKind.String || strategy.AsString() != "BatchLongest")
        {
            throw strategy.Error("padding strategy must be \"BatchLongest\" or {\"Fixed\": n}.");
        }

        string direction = node.String("direction", "Right")!;
        return new JsonPadding(
            fixedLength,
            direction switch
            {
                "Right" => PaddingSide.Right,
                "Left" => PaddingSide.Left,
                _ => throw node.Error($"padding direction '{direction}' is not Right or Left."),
            },
            node.Int("pad_to_multiple_of"),
            node.Int("pad_id") ?? 0,
            node.Int("pad_type_id") ?? 0,
            node.String("pad_token", "[PAD]")!);
    }
}
