using System.CommandLine;
using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.Pipelines;
using static TorchSharp.torch;

namespace DebertaSharp.Cli.Commands;

/// <summary><c>deberta embed</c>: sentence vectors (sentence-transformers pooling) to a safetensors file or JSON Lines.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var common = new PipelineCli.Common();
        var pooling = new Option<string?>("--pooling")
        {
            Description = "mean | cls | max | mean_sqrt_len | weightedmean | lasttoken, or several joined by '+' (default: the sentence-transformers folder's, else mean).",
        };
        var normalize = new Option<bool>("--normalize") { Description = "L2-normalise the vectors (default: as the sentence-transformers folder says, else no)." };
        var jsonl = new Option<string?>("--jsonl") { Description = "JSON Lines file of {\"text\": …} objects, used with or instead of the arguments." };
        var outputFile = new Option<string?>("--output") { Description = "Write a safetensors file holding \"embeddings\" [N, dim] (float32) in input order." };
        var texts = new Argument<string[]>("texts") { Arity = ArgumentArity.ZeroOrMore, Description = "Texts to embed." };
        var command = new Command("embed", "Sentence embeddings of texts: a sentence-transformers folder or a plain checkpoint with --pooling.")
        {
            pooling, normalize, jsonl, outputFile, texts,
        };
        common.AddTo(command);
        command.SetAction(parse => PipelineCli.Run(parse, "embed", (output, error) =>
        {
            string folder = common.ModelFolder(parse);
            var inputs = common.Texts(parse, texts, "TEXT, --jsonl FILE", parse.GetValue(jsonl) is { } path ? PipelineCli.JsonlTexts(path) : null);

            var options = new SentenceEmbeddingOptions
            {
                Pooling = parse.GetValue(pooling) is { } p ? ParsePooling(p) : null,
                Normalize = parse.GetValue(normalize) ? true : null,
            };
            using var embedder = SentenceEmbeddingPipeline.FromPretrained(folder, options);
            common.Configure(parse, embedder);
            var vectors = PipelineCli.WithProgress(error, inputs.Count, embedder.BatchSize * 4, "Embedding", (start, count) =>
                embedder.Embed(inputs.GetRange(start, count)));

            if (parse.GetValue(outputFile) is { } file)
            {
                var flat = new float[inputs.Count * embedder.Dimension];
                for (int i = 0; i < inputs.Count; i++)
                {
                    vectors[i].CopyTo(flat, i * embedder.Dimension);
                }

                using var embeddings = tensor(flat, [inputs.Count, embedder.Dimension]);
                SafetensorsWriter.Save(file, [new("embeddings", embeddings)], new Dictionary<string, string>
                {
                    ["pooling"] = embedder.Pooling.ToString(),
                    ["normalize"] = embedder.Normalize ? "true" : "false",
                });
            }

            if (parse.GetValue(common.Json))
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    PipelineCli.WriteJsonLine(output, new JsonObject
                    {
                        ["text"] = inputs[i],
                        ["embedding"] = new JsonArray(vectors[i].Select(v => (JsonNode)v).ToArray()),
                    });
                }
            }
            else if (parse.GetValue(outputFile) is { } written)
            {
                output.WriteLine($"Wrote {inputs.Count} embeddings of dimension {embedder.Dimension} ({embedder.Pooling}{(embedder.Normalize ? ", normalized" : "")}) to {written}.");
            }
            else
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    string head = string.Join(", ", vectors[i].Take(4).Select(PipelineCli.Score));
                    output.WriteLine($"{i}\t[{head}{(vectors[i].Length > 4 ? ", …" : "")}] ({vectors[i].Length})\t{inputs[i]}");
                }
            }

            return 0;
        }));
        return command;
    }

    /// <summary>Parses <c>--pooling</c>: mode names joined by '+'.</summary>
    private static PoolingMode ParsePooling(string value)
    {
        PoolingMode mode = 0;
        foreach (string name in value.Split('+', StringSplitOptions.TrimEntries))
        {
            mode |= name.ToLowerInvariant() switch
            {
                "mean" => PoolingMode.Mean,
                "cls" => PoolingMode.Cls,
                "max" => PoolingMode.Max,
                "mean_sqrt_len" or "mean_sqrt_len_tokens" => PoolingMode.MeanSqrtLength,
                "weightedmean" => PoolingMode.WeightedMean,
                "lasttoken" => PoolingMode.LastToken,
                _ => throw new PipelineCli.UsageException($"--pooling '{name}' is not one of mean, cls, max, mean_sqrt_len, weightedmean, lasttoken."),
            };
        }

        return mode;
    }
}
