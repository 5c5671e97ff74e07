using System.Text.Encodings.Web;
using System.Text.Json;

namespace DebertaSharp.Tokenization;

/// <summary>
/// Writes the files of transformers 4.44's <c>save_pretrained</c> for a tokenizer: <c>tokenizer_config.json</c> (the keys it was
/// loaded with, then <c>model_max_length</c>, <c>clean_up_tokenization_spaces</c>, the special tokens as strings,
/// <c>added_tokens_decoder</c>, <c>tokenizer_class</c>), <c>special_tokens_map.json</c>, <c>added_tokens.json</c> (tokens beyond the
/// model vocabulary) and the model files, each to a temporary sibling first and then renamed.
/// </summary>
internal static class TokenizerFolderWriter
{
    /// <summary>HF's <c>VERY_LARGE_INTEGER</c> = <c>int(1e30)</c>, written for "no limit".</summary>
    private const string NoLimit = "1000000000000000019884624838656";

    /// <summary>Keys HF drops before writing: file names of the vocabulary and private paths.</summary>
    private static readonly string[] Dropped = ["vocab_file", "merges_file", "tokenizer_file", "name_or_path", "special_tokens_map_file"];

    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public sealed record State(
        IReadOnlyDictionary<string, JsonElement> RawConfig,
        IReadOnlyDictionary<string, AddedToken> ByRole,
        IReadOnlySet<string> RolesWithFlags,
        IReadOnlyList<AddedToken> AdditionalSpecialTokens,
        IReadOnlyList<AddedToken> AddedTokens,
        IReadOnlyList<AddedToken> BeyondVocabulary,
        int? ModelMaxLength,
        bool CleanUpTokenizationSpaces,
        string TokenizerClass,
        IReadOnlyList<(string Name, byte[] Bytes)> ModelFiles);

    public static void Write(string folder, State state)
    {
        var files = new List<(string Name, byte[] Bytes)>(state.ModelFiles)
        {
            ("tokenizer_config.json", Json(w => TokenizerConfig(w, state))),
            ("special_tokens_map.json", Json(w => SpecialTokensMap(w, state))),
        };
        if (state.BeyondVocabulary.Count > 0)
        {
            files.Add(("added_tokens.json", Json(w =>
            {
                w.WriteStartObject();
                foreach (AddedToken t in state.BeyondVocabulary.OrderBy(t => t.Content, StringComparer.Ordinal))
                {
                    w.WriteNumber(t.Content, t.Id);
                }

                w.WriteEndObject();
            })));
        }

        var temps = new List<(string Temp, string Target)>();
        try
        {
            Directory.CreateDirectory(folder);
            foreach (var (name, bytes) in files)
            {
                string target = Path.Combine(folder, name);
                string temp = TemporaryFiles.Beside(Path.GetFullPath(target));
                temps.Add((temp, target));
                File.WriteAllBytes(temp, bytes);
            }

            // Every file is complete on disk before any is replaced.
            foreach (var (temp, target) in temps)
            {
                File.Move(temp, target, overwrite: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"Cannot save the tokenizer to '{folder}': {e.Message}", e);
        }
        finally
        {
            foreach (var (temp, _) in temps)
            {
                try
                {
                    File.Delete(temp);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // A temporary file that cannot be removed is left; the saved files are complete either way.
                }
            }
        }
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Indented))
        {
            write(writer);
        }

        stream.Write("\n"u8);
        return stream.ToArray();
    }

    private static void TokenizerConfig(Utf8JsonWriter w, State state)
    {
        var entries = new SortedDictionary<string, Action>(StringComparer.Ordinal);
        foreach (var (key, value) in state.RawConfig)
        {
            if (!Dropped.Contains(key))
            {
                entries[key] = () => value.WriteTo(w);
            }
        }

        entries["model_max_length"] = () =>
        {
            if (state.ModelMaxLength is int max)
            {
                w.WriteNumberValue(max);
            }
            else
            {
                w.WriteRawValue(NoLimit);
            }
        };
        entries["clean_up_tokenization_spaces"] = () => w.WriteBooleanValue(state.CleanUpTokenizationSpaces);
        foreach (var (role, token) in state.ByRole)
        {
            entries[role] = () => w.WriteStringValue(token.Content);
        }

        if (state.AdditionalSpecialTokens.Count > 0)
        {
            entries["additional_special_tokens"] = () =>
            {
                w.WriteStartArray();
                foreach (AddedToken t in state.AdditionalSpecialTokens)
                {
                    w.WriteStringValue(t.Content);
                }

                w.WriteEndArray();
            };
        }

        entries["added_tokens_decoder"] = () =>
        {
            w.WriteStartObject();
            foreach (AddedToken t in state.AddedTokens.OrderBy(t => t.Id))
            {
                w.WritePropertyName(t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Token(w, t, withSpecial: true);
            }

            w.WriteEndObject();
        };
        entries["tokenizer_class"] = () => w.WriteStringValue(state.TokenizerClass);

        w.WriteStartObject();
        foreach (var (key, write) in entries)
        {
            w.WritePropertyName(key);
            write();
        }

        w.WriteEndObject();
    }

    private static void SpecialTokensMap(Utf8JsonWriter w, State state)
    {
        w.WriteStartObject();
        if (state.AdditionalSpecialTokens.Count > 0)
        {
            w.WriteStartArray("additional_special_tokens");
            foreach (AddedToken t in state.AdditionalSpecialTokens)
            {
                w.WriteStringValue(t.Content);
            }

            w.WriteEndArray();
        }

        foreach (var (role, token) in state.ByRole.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(role);
            if (state.RolesWithFlags.Contains(role))
            {
                Token(w, token, withSpecial: false);
            }
            else
            {
                w.WriteStringValue(token.Content);
            }
        }

        w.WriteEndObject();
    }

    private static void Token(Utf8JsonWriter w, AddedToken t, bool withSpecial)
    {
        w.WriteStartObject();
        w.WriteString("content", t.Content);
        w.WriteBoolean("lstrip", t.LStrip);
        w.WriteBoolean("normalized", t.Normalized);
        w.WriteBoolean("rstrip", t.RStrip);
        w.WriteBoolean("single_word", t.SingleWord);
        if (withSpecial)
        {
            w.WriteBoolean("special", t.Special);
        }

        w.WriteEndObject();
    }

    /// <summary>Reads the model files a tokenizer was loaded from, so a later save does not depend on that folder still existing.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> Snapshot(string directory, IEnumerable<string> names)
    {
        var files = new List<(string, byte[])>();
        foreach (string name in names)
        {
            string path = Path.Combine(directory, name);
            try
            {
                files.Add((name, File.ReadAllBytes(path)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TokenizerException($"Cannot read '{path}': {e.Message}", e);
            }
        }

        return files;
    }

    /// <summary>HF's class name without a <c>Fast</c> suffix, as <c>save_pretrained</c> writes it.</summary>
    public static string ClassName(string name) =>
        name.EndsWith("Fast", StringComparison.Ordinal) && name != "PreTrainedTokenizerFast" ? name[..^4] : name;
}
