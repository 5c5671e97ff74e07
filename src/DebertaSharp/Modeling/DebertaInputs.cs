using DebertaSharp.Configuration;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Model inputs in HF naming. All id tensors are int64 on the model's device; <see cref="InputIds"/> is [B, L]
/// ([B, C, L] for multiple choice).
/// </summary>
public sealed record DebertaInputs(Tensor InputIds)
{
    /// <summary>1 for real tokens, 0 for padding; same shape as <see cref="InputIds"/>. Defaults to all ones.</summary>
    public Tensor? AttentionMask { get; init; }

    /// <summary>Segment ids (0 for the first text, 1 for the second); same shape as <see cref="InputIds"/>.</summary>
    public Tensor? TokenTypeIds { get; init; }

    /// <summary>Absolute position ids [B, L] (only used with <c>position_biased_input</c>). Defaults to 0…L−1.</summary>
    public Tensor? PositionIds { get; init; }

    /// <summary>Targets: MLM/token classification [B, L] (−100 = ignore), classification [B] (int64, or float for
    /// regression / multi-label [B, labels]), multiple choice [B].</summary>
    public Tensor? Labels { get; init; }

    /// <summary>Question answering: answer start index per row [B].</summary>
    public Tensor? StartPositions { get; init; }

    /// <summary>Question answering: answer end index per row [B].</summary>
    public Tensor? EndPositions { get; init; }

    /// <summary>
    /// Inputs from tensors named as HF's forward arguments (<c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>,
    /// <c>position_ids</c>, <c>labels</c>, <c>start_positions</c>, <c>end_positions</c>); other names are not looked at.
    /// </summary>
    /// <exception cref="DebertaInputException"><c>input_ids</c> is absent.</exception>
    public static DebertaInputs FromNamedTensors(IReadOnlyDictionary<string, Tensor> tensors) =>
        new(tensors.TryGetValue("input_ids", out var ids) ? ids
            : throw new DebertaInputException($"No 'input_ids' among the inputs (given: {string.Join(", ", tensors.Keys)})."))
        {
            AttentionMask = tensors.GetValueOrDefault("attention_mask"),
            TokenTypeIds = tensors.GetValueOrDefault("token_type_ids"),
            PositionIds = tensors.GetValueOrDefault("position_ids"),
            Labels = tensors.GetValueOrDefault("labels"),
            StartPositions = tensors.GetValueOrDefault("start_positions"),
            EndPositions = tensors.GetValueOrDefault("end_positions"),
        };
}

/// <summary>Checks inputs before they reach native code, so mistakes surface as <see cref="DebertaInputException"/>.</summary>
internal static class InputValidation
{
    public static void Check(DebertaConfig config, DebertaInputs inputs)
    {
        var ids = inputs.InputIds;
        if (ids.dim() != 2)
            throw new DebertaInputException($"input_ids must be [batch, length], got shape [{string.Join(", ", ids.shape)}].");
        if (ids.dtype != ScalarType.Int64 && ids.dtype != ScalarType.Int32)
            throw new DebertaInputException($"input_ids must be int64, got {ids.dtype}.");
        if (ids.shape[0] == 0 || ids.shape[1] == 0)
            throw new DebertaInputException($"input_ids is empty (shape [{string.Join(", ", ids.shape)}]); give at least one token in one sequence.");
        CheckRange("input_ids", ids, config.VocabSize, "vocab_size");
        CheckSameShape("attention_mask", inputs.AttentionMask, ids);
        CheckSameShape("token_type_ids", inputs.TokenTypeIds, ids);
        if (inputs.TokenTypeIds is { } tt && config.TypeVocabSize > 0)
            CheckRange("token_type_ids", tt, config.TypeVocabSize, "type_vocab_size");
        if (config.PositionBiasedInput)
        {
            if (inputs.PositionIds is { } pos)
            {
                CheckSameShape("position_ids", pos, ids, allowBroadcastBatch: true);
                CheckRange("position_ids", pos, config.MaxPositionEmbeddings, "max_position_embeddings");
            }
            else if (ids.shape[1] > config.MaxPositionEmbeddings)
                throw new DebertaInputException(
                    $"Sequence length {ids.shape[1]} exceeds max_position_embeddings {config.MaxPositionEmbeddings} of this model's absolute position table; truncate the input.");
        }
    }

    private static void CheckSameShape(string name, Tensor? t, Tensor ids, bool allowBroadcastBatch = false)
    {
        if (t is null) return;
        bool same = t.shape.SequenceEqual(ids.shape)
                    || (allowBroadcastBatch && t.dim() == 2 && t.shape[0] == 1 && t.shape[1] == ids.shape[1]);
        if (!same)
            throw new DebertaInputException(
                $"{name} has shape [{string.Join(", ", t.shape)}] but input_ids has [{string.Join(", ", ids.shape)}].");
    }

    private static void CheckRange(string name, Tensor t, long limit, string limitName)
    {
        using var scope = NewDisposeScope();
        long min = t.min().to(ScalarType.Int64).item<long>(), max = t.max().to(ScalarType.Int64).item<long>();
        if (min >= 0 && max < limit) return;
        long bad = min < 0 ? min : max;
        var where = t.eq(bad).nonzero()[0];
        var at = string.Join(", ", Enumerable.Range(0, (int)where.shape[0]).Select(i => where[i].to(ScalarType.Int64).item<long>()));
        throw new DebertaInputException($"{name} value {bad} at [{at}] is outside [0, {limit}) ({limitName}).");
    }
}
