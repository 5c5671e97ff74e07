using System.Text.Json;

namespace DebertaSharp.Tokenization;

/// <summary>Picks and loads the right DeBERTa tokenizer for a checkpoint folder, as HF's <c>AutoTokenizer</c>.</summary>
public static class AutoTokenizer
{
    /// <summary>
    /// Loads the tokenizer of <paramref name="directory"/>. The class comes from <c>tokenizer_config.json</c>'s
    /// <c>tokenizer_class</c>, else <c>config.json</c>'s <c>model_type</c> (<c>deberta</c> → v1, <c>deberta-v2</c> → v2/v3),
    /// else the files present (<c>spm.model</c> → v2/v3, <c>vocab.json</c> + <c>merges.txt</c> → v1).
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <returns>A <see cref="DebertaV2Tokenizer"/> or a <see cref="DebertaTokenizer"/>.</returns>
    /// <exception cref="TokenizerException">The folder is missing, names a tokenizer or model type other than DeBERTa's, or its files are missing or corrupt.</exception>
    public static DebertaTokenizerBase FromPretrained(string directory)
    {
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            throw new TokenizerException($"Tokenizer folder '{directory}' does not exist.");
        }

        return Detect(directory) switch
        {
            Kind.V2 => DebertaV2Tokenizer.FromPretrained(directory),
            _ => DebertaTokenizer.FromPretrained(directory),
        };
    }

    private enum Kind
    {
        V1,
        V2,
    }

    private static Kind Detect(string directory)
    {
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using JsonDocument doc = TokenizerConfig.ParseFile(configPath);
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("tokenizer_class", out JsonElement cls) && cls.ValueKind == JsonValueKind.String)
            {
                return cls.GetString() switch
                {
                    "DebertaV2Tokenizer" or "DebertaV2TokenizerFast" => Kind.V2,
                    "DebertaTokenizer" or "DebertaTokenizerFast" => Kind.V1,
                    var other => throw new TokenizerException(
                        $"'{configPath}': tokenizer_class '{other}' is not a DeBERTa tokenizer (DebertaV2Tokenizer or DebertaTokenizer)."),
                };
            }
        }

        string modelConfigPath = Path.Combine(directory, "config.json");
        if (File.Exists(modelConfigPath))
        {
            using JsonDocument doc = TokenizerConfig.ParseFile(modelConfigPath);
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("model_type", out JsonElement type) && type.ValueKind == JsonValueKind.String)
            {
                return type.GetString() switch
                {
                    "deberta-v2" => Kind.V2,
                    "deberta" => Kind.V1,
                    var other => throw new TokenizerException(
                        $"'{modelConfigPath}': model_type '{other}' is not a DeBERTa model (deberta or deberta-v2)."),
                };
            }
        }

        if (File.Exists(Path.Combine(directory, DebertaV2Tokenizer.ModelFileName)))
        {
            return Kind.V2;
        }

        if (File.Exists(Path.Combine(directory, DebertaTokenizer.VocabFileName)))
        {
            return Kind.V1;
        }

        throw new TokenizerException(
            $"'{directory}' holds no tokenizer: expected {DebertaV2Tokenizer.ModelFileName} (DeBERTa-v2/v3) or {DebertaTokenizer.VocabFileName} + {DebertaTokenizer.MergesFileName} (DeBERTa v1).");
    }
}
