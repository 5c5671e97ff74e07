using System.Globalization;
using System.Text.Json;

namespace DebertaSharp.Tokenization;

/// <summary>
/// The HuggingFace tokenizer files of a checkpoint folder that both DeBERTa tokenizers read:
/// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>, <c>added_tokens.json</c> (all optional).
/// </summary>
internal sealed class TokenizerConfig
{
    /// <summary>The named special tokens, in HF's <c>SPECIAL_TOKENS_ATTRIBUTES</c> order.</summary>
    public static readonly string[] SpecialRoles = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private TokenizerConfig(string directory)
    {
        Directory = directory;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary><c>tokenizer_class</c>, if given.</summary>
    public string? TokenizerClass { get; private set; }

    /// <summary><c>do_lower_case</c> (DeBERTa-v2/v3).</summary>
    public bool DoLowerCase { get; private set; }

    /// <summary><c>split_by_punct</c> (DeBERTa-v2/v3).</summary>
    public bool SplitByPunct { get; private set; }

    /// <summary><c>add_prefix_space</c> (DeBERTa v1).</summary>
    public bool AddPrefixSpace { get; private set; }

    /// <summary><c>clean_up_tokenization_spaces</c>; HF 4.44 defaults to true.</summary>
    public bool CleanUpTokenizationSpaces { get; private set; } = true;

    /// <summary><c>model_max_length</c>; <c>null</c> when absent or HF's "no limit" (int(1e30)).</summary>
    public int? ModelMaxLength { get; private set; }

    /// <summary>Role (e.g. <c>mask_token</c>) → token text and flags as written in the files (id not yet known: -1).</summary>
    public Dictionary<string, AddedToken> SpecialTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>Roles whose token was written as an object with flags (not as a plain string).</summary>
    public HashSet<string> RolesWithFlags { get; } = new(StringComparer.Ordinal);

    /// <summary><c>additional_special_tokens</c>.</summary>
    public List<AddedToken> AdditionalSpecialTokens { get; } = [];

    /// <summary>Entries of <c>added_tokens_decoder</c>; <c>null</c> when the config has none (older checkpoints).</summary>
    public List<AddedToken>? AddedTokensDecoder { get; private set; }

    /// <summary>Entries of <c>added_tokens.json</c> (content → id).</summary>
    public Dictionary<string, int> LegacyAddedTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>Reads the optional JSON files of <paramref name="directory"/>.</summary>
    /// <exception cref="TokenizerException">A file exists but is not valid JSON or has a value of the wrong type.</exception>
    public static TokenizerConfig Load(string directory)
    {
        var config = new TokenizerConfig(directory);
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using JsonDocument doc = ParseFile(configPath);
            config.ReadTokenizerConfig(doc.RootElement, configPath);
        }

        string mapPath = Path.Combine(directory, "special_tokens_map.json");
        if (File.Exists(mapPath))
        {
            using JsonDocument doc = ParseFile(mapPath);
            config.ReadSpecialTokens(doc.RootElement, mapPath);
        }

        string addedPath = Path.Combine(directory, "added_tokens.json");
        if (File.Exists(addedPath))
        {
            using JsonDocument doc = ParseFile(addedPath);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerException($"'{addedPath}' must be a JSON object mapping token text to id.");
            }

            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                {
                    throw new TokenizerException($"'{addedPath}': the id of added token '{p.Name}' is not a non-negative integer.");
                }

                config.LegacyAddedTokens[p.Name] = id;
            }
        }

        return config;
    }

    /// <summary>The largest tokenizer JSON file accepted (256 MiB; a 250k-entry vocab.json has a few MB).</summary>
    public const long MaxJsonBytes = 256L << 20;

    /// <summary>
    /// Reads a tokenizer JSON file through <see cref="StrictJson"/> (bad UTF-8, lone surrogates, duplicate keys are
    /// refused; comments and trailing commas are tolerated), errors as a <see cref="TokenizerException"/> naming it.
    /// </summary>
    public static JsonDocument ParseFile(string path) =>
        StrictJson.ParseFile(path, MaxJsonBytes, (message, inner) => new TokenizerException(message, inner), lenient: true);

    private void ReadTokenizerConfig(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerException($"'{path}' must be a JSON object.");
        }

        TokenizerClass = GetString(root, "tokenizer_class", path);
        DoLowerCase = GetBool(root, "do_lower_case", path) ?? false;
        SplitByPunct = GetBool(root, "split_by_punct", path) ?? false;
        AddPrefixSpace = GetBool(root, "add_prefix_space", path) ?? false;
        CleanUpTokenizationSpaces = GetBool(root, "clean_up_tokenization_spaces", path) ?? true;
        ModelMaxLength = ReadModelMaxLength(root, path);

        if (root.TryGetProperty("added_tokens_decoder", out JsonElement decoder) && decoder.ValueKind == JsonValueKind.Object)
        {
            AddedTokensDecoder = [];
            foreach (JsonProperty p in decoder.EnumerateObject())
            {
                if (!int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    throw new TokenizerException($"'{path}': added_tokens_decoder key '{p.Name}' is not a token id.");
                }

                AddedToken token = ReadToken(p.Value, $"added_tokens_decoder[{p.Name}]", path, defaultSpecial: false)
                    ?? throw new TokenizerException($"'{path}': added_tokens_decoder[{p.Name}] has no content.");
                AddedTokensDecoder.Add(token with { Id = id });
            }
        }

        ReadSpecialTokens(root, path);
    }

    private void ReadSpecialTokens(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerException($"'{path}' must be a JSON object.");
        }

        foreach (string role in SpecialRoles)
        {
            if (!root.TryGetProperty(role, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            AddedToken? token = ReadToken(value, role, path, defaultSpecial: true);
            if (token is not null)
            {
                SpecialTokens[role] = token;
                if (value.ValueKind == JsonValueKind.Object)
                {
                    RolesWithFlags.Add(role);
                }
                else
                {
                    RolesWithFlags.Remove(role);
                }
            }
        }

        if (root.TryGetProperty("additional_special_tokens", out JsonElement extra) && extra.ValueKind == JsonValueKind.Array)
        {
            AdditionalSpecialTokens.Clear();
            int i = 0;
            foreach (JsonElement e in extra.EnumerateArray())
            {
                AddedToken? token = ReadToken(e, $"additional_special_tokens[{i++}]", path, defaultSpecial: true);
                if (token is not null)
                {
                    AdditionalSpecialTokens.Add(token);
                }
            }
        }
    }

    /// <summary>A token written either as a string or as HF's serialized <c>AddedToken</c> object.</summary>
    private static AddedToken? ReadToken(JsonElement value, string key, string path, bool defaultSpecial)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            string content = value.GetString()!;
            return content.Length == 0 ? null : new AddedToken(content, -1) { Special = defaultSpecial, Normalized = !defaultSpecial };
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerException($"'{path}': '{key}' must be a string or a token object, not {value.ValueKind}.");
        }

        string? text = GetString(value, "content", path);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return new AddedToken(text, -1)
        {
            LStrip = GetBool(value, "lstrip", path) ?? false,
            RStrip = GetBool(value, "rstrip", path) ?? false,
            SingleWord = GetBool(value, "single_word", path) ?? false,
            Normalized = GetBool(value, "normalized", path) ?? !defaultSpecial,
            Special = GetBool(value, "special", path) ?? defaultSpecial,
        };
    }

    private static int? ReadModelMaxLength(JsonElement root, string path)
    {
        if (!root.TryGetProperty("model_max_length", out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw new TokenizerException($"'{path}': model_max_length must be a number, not {value.ValueKind}.");
        }

        // HF writes int(1e30) (VERY_LARGE_INTEGER) for "no limit"; it fits neither int nor long.
        double length = value.GetDouble();
        if (length <= 0 || double.IsNaN(length))
        {
            throw new TokenizerException($"'{path}': model_max_length must be positive, not {value.GetRawText()}.");
        }

        return length >= int.MaxValue ? null : (int)length;
    }

    private static string? GetString(JsonElement obj, string name, string path)
    {
        if (!obj.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new TokenizerException($"'{path}': '{name}' must be a string, not {value.ValueKind}.");
    }

    private static bool? GetBool(JsonElement obj, string name, string path)
    {
        if (!obj.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new TokenizerException($"'{path}': '{name}' must be true or false, not {value.GetRawText()}."),
        };
    }
}
