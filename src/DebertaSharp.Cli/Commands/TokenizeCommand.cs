using System.CommandLine;
using System.Text.Json;
using DebertaSharp.Tokenization;


using UsageException = DebertaSharp.Cli.Commands.PipelineCli.UsageException;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta tokenize</c>: encode texts with a checkpoint's tokenizer and print one JSON object per input.</summary>
internal static class TokenizeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CliErrors.FolderOption("--model", "Checkpoint folder with spm.model (DeBERTa-v2/v3) or vocab.json + merges.txt (v1).", ModelFolderNeeds.Tokenizer, required: true);
        var pair = new Option<string?>("--pair") { Description = "Second text of a pair, used with every TEXT." };
        // Parsed by hand (not Option<int?>) so a bad value exits with 2 like every other user error.
        var maxLength = new Option<string?>("--max-length") { Description = "Maximum length in tokens, special tokens included." };
        var truncation = new Option<string?>("--truncation")
        {
            Description = "longest_first | only_first | only_second | none (default: longest_first when --max-length is given and --padding is none).",
        };
        var padding = new Option<string?>("--padding") { Description = "max_length | longest | none (default none); longest pads across all inputs." };
        var stride = new Option<string?>("--stride") { Description = "Tokens shared by consecutive overflow windows (HF stride; with --return-overflowing-tokens)." };
        var overflow = new Option<bool>("--return-overflowing-tokens")
        {
            Description = "Print every window truncation cuts (HF fast tokenizers' overflow), one line each, with overflow_to_sample_mapping.",
        };
        var truncationSide = new Option<string?>("--truncation-side") { Description = "right | left: which end truncation cuts (default right)." };
        var paddingSide = new Option<string?>("--padding-side") { Description = "right | left: where padding goes (default right)." };
        var multiple = new Option<string?>("--pad-to-multiple-of") { Description = "Round the padded length up to a multiple of N (with --padding)." };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "Do not add [CLS]/[SEP] (HF add_special_tokens=False)." };
        var words = new Option<bool>("--is-split-into-words")
        {
            Description = "Each text (and --pair) is a list of words separated by whitespace; each word is tokenized on its own (HF is_split_into_words); prints word_ids.",
        };
        var specialMask = new Option<bool>("--return-special-tokens-mask") { Description = "Also print special_tokens_mask." };
        var length = new Option<bool>("--return-length") { Description = "Also print length (tokens, padding included, as HF's fast tokenizers)." };
        var jsonl = new Option<string?>("--jsonl") { Description = "JSON Lines file with one {\"text\": ..., \"text_pair\": ...} object per line." };
        var texts = new Argument<string[]>("texts") { Arity = ArgumentArity.ZeroOrMore, Description = "Texts to tokenize." };

        var command = new Command("tokenize", "Tokenize texts as HuggingFace would; prints {input_ids, token_type_ids, attention_mask, offsets} per input (offsets in UTF-16 units), plus the fields the --return-* flags ask for.")
        {
            model, pair, maxLength, truncation, padding, stride, overflow, truncationSide, paddingSide, multiple, noSpecial, words, specialMask, length,
            jsonl, texts,
        };

        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            try
            {
                string folder = parse.GetValue(model)!.FullName;
                var options = new EncodeOptions
                {
                    MaxLength = ParseInt(parse.GetValue(maxLength), "--max-length", 1),
                    Truncation = ParseTruncation(parse.GetValue(truncation)),
                    Padding = ParsePadding(parse.GetValue(padding)),
                    Stride = ParseInt(parse.GetValue(stride), "--stride", 0) ?? 0,
                    ReturnOverflowingTokens = parse.GetValue(overflow),
                    TruncationSide = ParseSide(parse.GetValue(truncationSide), "--truncation-side") == "left" ? TruncationSide.Left : TruncationSide.Right,
                    PaddingSide = ParseSide(parse.GetValue(paddingSide), "--padding-side") == "left" ? PaddingSide.Left : PaddingSide.Right,
                    PadToMultipleOf = ParseInt(parse.GetValue(multiple), "--pad-to-multiple-of", 1),
                    AddSpecialTokens = !parse.GetValue(noSpecial),
                };
                var fields = new Fields(parse.GetValue(specialMask), parse.GetValue(length), options.ReturnOverflowingTokens);

                var firsts = new List<string>();
                var seconds = new List<string?>();
                string? pairText = parse.GetValue(pair);
                foreach (string text in parse.GetValue(texts) ?? [])
                {
                    firsts.Add(text);
                    seconds.Add(pairText);
                }

                if (parse.GetValue(jsonl) is string path)
                {
                    ReadJsonLines(path, firsts, seconds);
                }

                if (firsts.Count == 0)
                {
                    throw new UsageException("Nothing to tokenize: give TEXT arguments or --jsonl FILE.");
                }

                DebertaTokenizerBase tokenizer = AutoTokenizer.FromPretrained(folder);
                BatchEncoding batch = parse.GetValue(words)
                    ? tokenizer.EncodeWordsBatch(firsts.ConvertAll(Words), seconds.ConvertAll(s => s is null ? null : Words(s)), options)
                    : tokenizer.EncodeBatch(firsts, seconds, options);
                for (int i = 0; i < batch.BatchSize; i++)
                {
                    output.WriteLine(ToJson(batch.Encodings[i], fields, batch.OverflowToSampleMapping?[i]));
                }

                return 0;
            }
            catch (Exception ex) when (ex is TokenizerException or UsageException)
            {
                error.WriteLine("deberta tokenize: " + ex.Message);
                return 2;
            }
        });

        return command;
    }

    /// <summary>Which optional fields a line carries.</summary>
    private sealed record Fields(bool SpecialTokensMask, bool Length, bool OverflowToSampleMapping);

    private static IReadOnlyList<string> Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static int? ParseInt(string? value, string name, int minimum)
    {
        if (value is null)
        {
            return null;
        }

        return int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= minimum
            ? n
            : throw new UsageException($"{name} '{value}' is not {(minimum == 0 ? "a whole number ≥ 0" : "a positive integer")}.");
    }

    private static string? ParseSide(string? value, string name) => value?.ToLowerInvariant() switch
    {
        null => null,
        "left" => "left",
        "right" => "right",
        _ => throw new UsageException($"{name} '{value}' is not one of right, left."),
    };

    private static TruncationStrategy? ParseTruncation(string? value) => value?.ToLowerInvariant() switch
    {
        null => null,
        "longest_first" or "true" => TruncationStrategy.LongestFirst,
        "only_first" => TruncationStrategy.OnlyFirst,
        "only_second" => TruncationStrategy.OnlySecond,
        "none" or "do_not_truncate" or "false" => TruncationStrategy.DoNotTruncate,
        _ => throw new UsageException($"--truncation '{value}' is not one of longest_first, only_first, only_second, none."),
    };

    private static PaddingStrategy ParsePadding(string? value) => value?.ToLowerInvariant() switch
    {
        null or "none" or "do_not_pad" or "false" => PaddingStrategy.DoNotPad,
        "longest" or "true" => PaddingStrategy.Longest,
        "max_length" => PaddingStrategy.MaxLength,
        _ => throw new UsageException($"--padding '{value}' is not one of max_length, longest, none."),
    };

    private static void ReadJsonLines(string path, List<string> firsts, List<string?> seconds) =>
        PipelineCli.ReadJsonl(path, (root, text, number) =>
        {
            string? second = null;
            if (root.TryGetProperty("text_pair", out JsonElement p) && p.ValueKind != JsonValueKind.Null)
            {
                second = p.ValueKind == JsonValueKind.String
                    ? p.GetString()
                    : throw new UsageException($"'{path}' line {number}: \"text_pair\" must be a string or null.");
            }

            firsts.Add(text);
            seconds.Add(second);
        });

    private static string ToJson(Tokenization.TokenEncoding encoding, Fields fields, int? sample)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            WriteInts(writer, "input_ids", encoding.InputIds);
            WriteInts(writer, "token_type_ids", encoding.TokenTypeIds);
            WriteInts(writer, "attention_mask", encoding.AttentionMask);
            writer.WriteStartArray("offsets");
            foreach (TokenOffset offset in encoding.Offsets)
            {
                writer.WriteStartArray();
                writer.WriteNumberValue(offset.Start);
                writer.WriteNumberValue(offset.End);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
            if (fields.SpecialTokensMask)
            {
                WriteInts(writer, "special_tokens_mask", encoding.SpecialTokensMask);
            }

            if (encoding.WordIds is { } wordIds)
            {
                writer.WriteStartArray("word_ids");
                foreach (int? w in wordIds)
                {
                    if (w is int id)
                    {
                        writer.WriteNumberValue(id);
                    }
                    else
                    {
                        writer.WriteNullValue();
                    }
                }

                writer.WriteEndArray();
            }

            if (fields.Length)
            {
                writer.WriteNumber("length", encoding.Length);
            }

            if (fields.OverflowToSampleMapping && sample is int s)
            {
                writer.WriteNumber("overflow_to_sample_mapping", s);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteInts(Utf8JsonWriter writer, string name, IReadOnlyList<int> values)
    {
        writer.WriteStartArray(name);
        foreach (int v in values)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
    }

}
