using System.Text;
using DebertaSharp.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// What loading a checkpoint did, key by key (model naming). Missing keys were left at their HF initialisation;
/// unexpected keys were not used; ignored keys are ones HF itself skips (tied aliases, position tables the
/// model does not use, pre-training heads).
/// </summary>
public sealed record LoadReport
{
    /// <summary>The checkpoint location.</summary>
    public required string Source { get; init; }

    /// <summary>Parameters loaded from the checkpoint.</summary>
    public required IReadOnlyList<string> Loaded { get; init; }

    /// <summary>Parameters the checkpoint lacks: newly initialised as HF does (e.g. a new classifier).</summary>
    public required IReadOnlyList<string> Missing { get; init; }

    /// <summary>Checkpoint keys the model has no place for.</summary>
    public required IReadOnlyList<string> Unexpected { get; init; }

    /// <summary>Checkpoint keys skipped on purpose, with the reason.</summary>
    public required IReadOnlyList<(string Key, string Reason)> Ignored { get; init; }

    /// <summary>The prefix adaptation applied: <c>null</c>, <c>"strip deberta."</c> or <c>"add deberta."</c>.</summary>
    public string? PrefixAdaptation { get; init; }

    /// <summary>A readable multi-line summary.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"loaded {Loaded.Count} tensors from {Source}{(PrefixAdaptation is null ? "" : $" ({PrefixAdaptation})")}");
        sb.AppendLine($"missing (newly initialised): {(Missing.Count == 0 ? "none" : string.Join(", ", Missing))}");
        sb.AppendLine($"unexpected (unused): {(Unexpected.Count == 0 ? "none" : string.Join(", ", Unexpected))}");
        sb.Append($"ignored: {(Ignored.Count == 0 ? "none" : string.Join(", ", Ignored.Select(i => $"{i.Key} ({i.Reason})")))}");
        return sb.ToString();
    }
}

/// <summary>Copies checkpoint tensors into a model with exact shape checks and HF's prefix rules.</summary>
internal static class WeightLoader
{
    private const string Prefix = DebertaPreTrainedModel.BasePrefix + ".";

    /// <summary>
    /// Compares the shapes <paramref name="config"/> implies for the tensors whose size it sets with the checkpoint's
    /// entries (read from the headers, nothing allocated), before the model is built: a config that does not belong to
    /// the weights (<c>vocab_size</c> 10^9, <c>num_labels</c> 10^7 against a 2-label classifier) fails at once, naming
    /// the config key, its value and the checkpoint tensor, instead of after building gigabytes of parameters.
    /// Keys the checkpoint lacks are not checked (they are initialised, as HF does).
    /// </summary>
    /// <exception cref="DebertaConfigurationException">A config value contradicts a checkpoint shape.</exception>
    public static void CheckConfigFits(DebertaSharp.Configuration.DebertaConfig config, HeadKind? head, CheckpointReader checkpoint, string configSource)
    {
        int h = config.HiddenSize, e = config.EffectiveEmbeddingSize;
        // (bare key, expected shape, the config keys that set it)
        var expected = new List<(string Key, long[] Shape, string Keys)>
        {
            ("embeddings.word_embeddings.weight", [config.VocabSize, e], $"vocab_size {config.VocabSize}, embedding width {e}"),
            ("encoder.layer.0.intermediate.dense.weight", [config.IntermediateSize, h], $"intermediate_size {config.IntermediateSize}, hidden_size {h}"),
            ("encoder.layer.0.output.dense.weight", [h, config.IntermediateSize], $"hidden_size {h}, intermediate_size {config.IntermediateSize}"),
        };
        if (config.PositionBiasedInput)
            expected.Add(("embeddings.position_embeddings.weight", [config.MaxPositionEmbeddings, e], $"max_position_embeddings {config.MaxPositionEmbeddings}"));
        if (config.TypeVocabSize > 0)
            expected.Add(("embeddings.token_type_embeddings.weight", [config.TypeVocabSize, e], $"type_vocab_size {config.TypeVocabSize}"));
        if (config.RelativeAttention)
            expected.Add(("encoder.rel_embeddings.weight", [2L * config.PositionEmbeddingSpan, h],
                config.ModelType == DebertaSharp.Configuration.DebertaModelType.DebertaV2 && config.PositionBuckets > 0
                    ? $"position_buckets {config.PositionBuckets} (2 × buckets rows)" : $"max_relative_positions {config.EffectiveMaxRelativePositions} (2 × rows)"));
        if (head is HeadKind.SequenceClassification)
            expected.Add(("classifier.weight", [config.NumLabels, config.EffectivePoolerHiddenSize], $"num_labels {config.NumLabels}"));
        if (head is HeadKind.TokenClassification)
            expected.Add(("classifier.weight", [config.NumLabels, h], $"num_labels {config.NumLabels}"));
        if (head is HeadKind.QuestionAnswering)
            expected.Add(("qa_outputs.weight", [config.NumLabels, h], $"num_labels {config.NumLabels}"));

        foreach (var (key, shape, keys) in expected)
        {
            string? found = checkpoint.Contains(key) ? key : checkpoint.Contains(Prefix + key) ? Prefix + key : null;
            if (found is null) continue;
            var entry = checkpoint.GetEntry(found);
            if (!entry.Shape.SequenceEqual(shape))
                throw new DebertaSharp.DebertaConfigurationException(
                    $"{configSource} does not belong to the checkpoint {checkpoint.Location}: {keys} imply '{found}' of shape " +
                    $"{TensorEntry.FormatShape(shape)}, but the checkpoint has {entry.ShapeText}.");
        }
    }

    public static LoadReport Load(DebertaPreTrainedModel model, CheckpointReader checkpoint)
    {
        var state = model.state_dict();
        var fileKeys = new HashSet<string>(checkpoint.Keys, StringComparer.Ordinal);
        bool modelIsBase = model.Head == HeadKind.Base;
        bool fileHasPrefix = checkpoint.Keys.Any(k => k.StartsWith(Prefix, StringComparison.Ordinal));
        bool fileHasBareBase = checkpoint.Keys.Any(k => k.StartsWith("embeddings.", StringComparison.Ordinal) || k.StartsWith("encoder.", StringComparison.Ordinal));

        // HF: a base model loads a head checkpoint by stripping "deberta."; a head loads a base checkpoint by adding it.
        string? adaptation = null;
        Func<string, string> toFileKey = k => k;
        if (modelIsBase && fileHasPrefix && !fileHasBareBase)
        {
            adaptation = "strip deberta.";
            toFileKey = k => Prefix + k;
        }
        else if (!modelIsBase && !fileHasPrefix && fileHasBareBase)
        {
            adaptation = "add deberta.";
            toFileKey = k => k.StartsWith(Prefix, StringComparison.Ordinal) ? k[Prefix.Length..] : k;
        }

        var loaded = new List<string>();
        var missing = new List<string>();
        var mismatched = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var plan = new List<(string FileKey, Tensor Destination)>();
        foreach (var (name, tensor) in state)
        {
            string fileKey = toFileKey(name);
            if (!fileKeys.Contains(fileKey)) { missing.Add(name); continue; }
            used.Add(fileKey);
            var entry = checkpoint.GetEntry(fileKey);
            if (!entry.Shape.SequenceEqual(tensor.shape))
            {
                mismatched.Add($"{fileKey}: checkpoint {TensorEntry.FormatShape(entry.Shape)} vs model {TensorEntry.FormatShape(tensor.shape)}");
                continue;
            }
            plan.Add((fileKey, tensor));
            loaded.Add(name);
        }
        if (mismatched.Count > 0)
            throw new CheckpointException(
                $"Checkpoint {checkpoint.Location} does not fit {model.ArchitectureName} ({mismatched.Count} shape mismatch{(mismatched.Count == 1 ? "" : "es")}): " +
                string.Join("; ", mismatched) + ". Check that config.json belongs to these weights.");

        using (no_grad())
            foreach (var (fileKey, destination) in plan)
                checkpoint.CopyInto(fileKey, destination);

        var ignored = new List<(string, string)>();
        var unexpected = new List<string>();
        foreach (var key in checkpoint.Keys)
        {
            if (used.Contains(key)) continue;
            string? reason = IgnoreReason(model, key);
            if (reason is null) unexpected.Add(key);
            else ignored.Add((key, reason));
        }
        return new LoadReport
        {
            Source = checkpoint.Location,
            Loaded = loaded,
            Missing = missing,
            Unexpected = unexpected,
            Ignored = ignored,
            PrefixAdaptation = adaptation,
        };
    }

    /// <summary>Why HF itself skips <paramref name="key"/> for this model, or <c>null</c> if it is simply unexpected.</summary>
    private static string? IgnoreReason(DebertaPreTrainedModel model, string key)
    {
        string bare = key.StartsWith(Prefix, StringComparison.Ordinal) ? key[Prefix.Length..] : key;
        if (bare.EndsWith("position_ids", StringComparison.Ordinal))
            return "position_ids buffer of older checkpoints, rebuilt at run time";
        if (bare == "embeddings.position_embeddings.weight" && !model.Config.PositionBiasedInput)
            return "absolute position table unused with position_biased_input=false (the Enhanced Mask Decoder uses it)";
        if (key is "cls.predictions.decoder.weight" or "cls.predictions.decoder.bias")
            return "tied to deberta.embeddings.word_embeddings.weight / cls.predictions.bias";
        if (key.StartsWith("lm_predictions.", StringComparison.Ordinal))
            return model.Head == HeadKind.MaskedLM ? "second MLM head layout beside cls.predictions.*" : "pre-training MLM head";
        if (key.StartsWith("cls.predictions.", StringComparison.Ordinal) && model.Head != HeadKind.MaskedLM)
            return "pre-training MLM head";
        if (key.StartsWith("mask_predictions.", StringComparison.Ordinal) && model.Head != HeadKind.ReplacedTokenDetection)
            return "replaced-token-detection head of pre-training";
        if (bare is "embeddings.word_embeddings._weight" or "embeddings.position_embeddings._weight")
            return "GDES delta of RTD pre-training, already added into the table's weight";
        return null;
    }
}
