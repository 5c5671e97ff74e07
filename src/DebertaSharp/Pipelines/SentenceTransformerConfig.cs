using System.Text.Json;
using DebertaSharp.Configuration;

namespace DebertaSharp.Pipelines;

/// <summary>
/// The layout of a sentence-transformers checkpoint folder: <c>modules.json</c> listing a Transformer module (the
/// DeBERTa checkpoint, usually the folder itself), a <c>Pooling</c> module (<c>1_Pooling/config.json</c>) and an optional
/// <c>Normalize</c> module, plus <c>sentence_bert_config.json</c>'s <c>max_seq_length</c>.
/// </summary>
public sealed record SentenceTransformerConfig
{
    private const string TransformerType = "sentence_transformers.models.Transformer";
    private const string PoolingType = "sentence_transformers.models.Pooling";
    private const string NormalizeType = "sentence_transformers.models.Normalize";

    private static readonly (string Key, PoolingMode Mode)[] PoolingKeys =
    [
        ("pooling_mode_cls_token", PoolingMode.Cls),
        ("pooling_mode_max_tokens", PoolingMode.Max),
        ("pooling_mode_mean_tokens", PoolingMode.Mean),
        ("pooling_mode_mean_sqrt_len_tokens", PoolingMode.MeanSqrtLength),
        ("pooling_mode_weightedmean_tokens", PoolingMode.WeightedMean),
        ("pooling_mode_lasttoken", PoolingMode.LastToken),
    ];

    /// <summary>The folder of the Transformer module: <c>config.json</c>, weights and tokenizer files.</summary>
    public required string ModelFolder { get; init; }

    /// <summary>The pooling modes switched on in the Pooling module's <c>config.json</c>.</summary>
    public required PoolingMode Pooling { get; init; }

    /// <summary>Whether a Normalize module follows the pooling (unit-length vectors).</summary>
    public required bool Normalize { get; init; }

    /// <summary><c>sentence_bert_config.json</c>'s <c>max_seq_length</c>, if present.</summary>
    public int? MaxSeqLength { get; init; }

    /// <summary>Whether <paramref name="folder"/> is a sentence-transformers folder (it has <c>modules.json</c>).</summary>
    public static bool IsSentenceTransformer(string folder) => File.Exists(Path.Combine(folder, "modules.json"));

    /// <summary>Reads the sentence-transformers files of <paramref name="folder"/>.</summary>
    /// <exception cref="DebertaConfigurationException">
    /// A file is missing or not valid JSON, a module type other than Transformer → Pooling → (Normalize), or a pooling
    /// configuration without any mode.
    /// </exception>
    public static SentenceTransformerConfig Read(string folder)
    {
        string modulesPath = Path.Combine(folder, "modules.json");
        using JsonDocument modules = Parse(modulesPath);
        if (modules.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new DebertaConfigurationException($"'{modulesPath}' must be a JSON array of modules.");
        }

        string? modelFolder = null;
        PoolingMode? pooling = null;
        bool normalize = false;
        foreach (JsonElement module in modules.RootElement.EnumerateArray())
        {
            string type = module.ValueKind == JsonValueKind.Object && module.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String
                ? t.GetString()!
                : throw new DebertaConfigurationException($"'{modulesPath}': every module needs a string \"type\".");
            string path = module.TryGetProperty("path", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
            string expected = modelFolder is null ? TransformerType : pooling is null ? PoolingType : NormalizeType;
            if (type != expected || normalize)
            {
                throw new DebertaConfigurationException(
                    $"'{modulesPath}': module '{type}' at path '{path}' is not supported here; DebertaSharp reads Transformer → Pooling → optional Normalize.");
            }

            string moduleFolder = Path.GetFullPath(Path.Combine(folder, path));
            switch (type)
            {
                case TransformerType:
                    modelFolder = moduleFolder;
                    break;
                case PoolingType:
                    pooling = ReadPooling(Path.Combine(moduleFolder, "config.json"));
                    break;
                default:
                    normalize = true;
                    break;
            }
        }

        if (modelFolder is null || pooling is null)
        {
            throw new DebertaConfigurationException($"'{modulesPath}' lists no {(modelFolder is null ? "Transformer" : "Pooling")} module.");
        }

        return new SentenceTransformerConfig
        {
            ModelFolder = modelFolder,
            Pooling = pooling.Value,
            Normalize = normalize,
            MaxSeqLength = ReadMaxSeqLength(modelFolder) ?? ReadMaxSeqLength(folder),
        };
    }

    private static PoolingMode ReadPooling(string path)
    {
        using JsonDocument doc = Parse(path);
        PoolingMode mode = 0;
        if (doc.RootElement.ValueKind == JsonValueKind.Object)
        {
            foreach (var (key, flag) in PoolingKeys)
            {
                if (doc.RootElement.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.True)
                {
                    mode |= flag;
                }
            }
        }

        return mode != 0 ? mode : throw new DebertaConfigurationException($"'{path}' switches on no pooling mode (pooling_mode_*_tokens).");
    }

    private static int? ReadMaxSeqLength(string folder)
    {
        string path = Path.Combine(folder, "sentence_bert_config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using JsonDocument doc = Parse(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("max_seq_length", out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.TryGetInt32(out int n) && n >= 4 ? n : throw new DebertaConfigurationException($"'{path}': max_seq_length must be an integer ≥ 4, got {v.GetRawText()}.");
    }

    private static JsonDocument Parse(string path) =>
        StrictJson.ParseFile(path, DebertaConfig.MaxConfigBytes, (message, inner) => new DebertaConfigurationException(message, inner),
            lenient: true, comments: false);   // trailing commas tolerated, as before
}
