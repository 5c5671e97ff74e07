using System.Text.Json;

namespace DebertaSharp.Tokenization;

/// <summary>Picks and loads the right DeBERTa tokenizer for a checkpoint folder, as HF's <c>AutoTokenizer</c>.</summary>
public static class AutoTokenizer
{
    /// <summary>
    /// The files of which a tokenizer folder holds at least one (sentencepiece for v2/v3, BPE vocabulary for v1,
    /// <c>tokenizer.json</c>): what <see cref="FromPretrained(string)"/> looks for, and what the CLI checks a folder for.
    /// </summary>
    internal static IReadOnlyList<string> VocabularyFiles { get; } =
        [DebertaV2Tokenizer.ModelFileName, DebertaTokenizer.VocabFileName, DebertaTokenizerFast.FileName];

    /// <summary>Whether <paramref name="directory"/> holds one of <see cref="VocabularyFiles"/>.</summary>
    internal static bool HasTokenizer(string directory) => VocabularyFiles.Any(f => File.Exists(Path.Combine(directory, f)));

    /// <summary>
    /// Loads the tokenizer of <paramref name="directory"/> as Python's <c>AutoTokenizer.from_pretrained</c> does: the fast
    /// tokenizer (<see cref="DebertaTokenizerFast"/>) when the folder has <c>tokenizer.json</c>, else the sentencepiece /
    /// BPE one. The class comes from <c>tokenizer_config.json</c>'s <c>tokenizer_class</c>, else <c>config.json</c>'s
    /// <c>model_type</c> (<c>deberta</c> → v1, <c>deberta-v2</c> → v2/v3), else the files present (<c>spm.model</c> →
    /// v2/v3, <c>vocab.json</c> + <c>merges.txt</c> → v1).
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <returns>A <see cref="DebertaTokenizerFast"/>, <see cref="DebertaV2Tokenizer"/> or <see cref="DebertaTokenizer"/>.</returns>
    /// <exception cref="TokenizerException">The folder is missing, names a tokenizer or model type other than DeBERTa's, or its files are missing or corrupt.</exception>
    public static DebertaTokenizerBase FromPretrained(string directory) => FromPretrained(directory, useFast: true);

    /// <summary>
    /// Loads the tokenizer of <paramref name="directory"/>; <paramref name="useFast"/> = <c>false</c> picks the
    /// sentencepiece / BPE tokenizer even when <c>tokenizer.json</c> is present (Python's <c>use_fast=False</c>).
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="useFast">Prefer <c>tokenizer.json</c> (the default, as in Python).</param>
    /// <returns>A <see cref="DebertaTokenizerFast"/>, <see cref="DebertaV2Tokenizer"/> or <see cref="DebertaTokenizer"/>.</returns>
    /// <exception cref="TokenizerException">The folder is missing, names a tokenizer or model type other than DeBERTa's, or the files of the chosen tokenizer are missing or corrupt.</exception>
    public static DebertaTokenizerBase FromPretrained(string directory, bool useFast)
    {
        directory = Hub.PretrainedSource.Resolve(directory, Hub.PretrainedFiles.Tokenizer);
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            throw new TokenizerException($"Tokenizer folder '{directory}' does not exist.");
        }

        bool hasJson = File.Exists(Path.Combine(directory, DebertaTokenizerFast.FileName));
        Kind kind = Detect(directory, hasJson);
        if (hasJson && useFast)
        {
            return DebertaTokenizerFast.FromPretrained(directory);
        }

        return kind switch
        {
            Kind.V2 => DebertaV2Tokenizer.FromPretrained(directory),
            Kind.V1 => DebertaTokenizer.FromPretrained(directory),
            _ => throw new TokenizerException(
                $"'{directory}' has only {DebertaTokenizerFast.FileName}: the slow tokenizer (useFast: false) needs {DebertaV2Tokenizer.ModelFileName} or {DebertaTokenizer.VocabFileName} + {DebertaTokenizer.MergesFileName}."),
        };
    }

    private enum Kind
    {
        V1,
        V2,
        FastOnly,
    }

    private static Kind Detect(string directory, bool hasJson)
    {
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        if (StringProperty(configPath, "tokenizer_class") is { } tokenizerClass)
        {
            return tokenizerClass switch
            {
                "DebertaV2Tokenizer" or "DebertaV2TokenizerFast" => Kind.V2,
                "DebertaTokenizer" or "DebertaTokenizerFast" => Kind.V1,
                _ => throw new TokenizerException(
                    $"'{configPath}': tokenizer_class '{tokenizerClass}' is not a DeBERTa tokenizer (DebertaV2Tokenizer, DebertaTokenizer or their Fast variants)."),
            };
        }

        string modelConfigPath = Path.Combine(directory, "config.json");
        if (StringProperty(modelConfigPath, "model_type") is { } modelType)
        {
            return modelType switch
            {
                "deberta-v2" => Kind.V2,
                "deberta" => Kind.V1,
                _ => throw new TokenizerException(
                    $"'{modelConfigPath}': model_type '{modelType}' is not a DeBERTa model (deberta or deberta-v2)."),
            };
        }

        if (File.Exists(Path.Combine(directory, DebertaV2Tokenizer.ModelFileName)))
        {
            return Kind.V2;
        }

        if (File.Exists(Path.Combine(directory, DebertaTokenizer.VocabFileName)))
        {
            return Kind.V1;
        }

        if (hasJson)
        {
            return Kind.FastOnly;
        }

        throw new TokenizerException(
            $"'{directory}' holds no tokenizer: expected {DebertaTokenizerFast.FileName}, {DebertaV2Tokenizer.ModelFileName} (DeBERTa-v2/v3) or {DebertaTokenizer.VocabFileName} + {DebertaTokenizer.MergesFileName} (DeBERTa v1).");
    }

    /// <summary>The string value of top-level <paramref name="name"/> in the JSON file, or <c>null</c> when the file or the string is absent.</summary>
    private static string? StringProperty(string path, string name)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using JsonDocument doc = TokenizerConfig.ParseFile(path);
        return doc.RootElement.ValueKind == JsonValueKind.Object &&
               doc.RootElement.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
    }
}
