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

    /// <summary>Set once <see cref="InputValidation.Prepare"/> has checked these inputs, so the encoder does not check again.</summary>
    internal bool Validated { get; init; }

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

/// <summary>
/// Checks inputs before they reach native code, so mistakes surface as <see cref="DebertaInputException"/> naming the
/// tensor and what was expected. All checks live here; value ranges cost one host sync per checked tensor (min and
/// max are fetched together).
/// </summary>
internal static class InputValidation
{
    /// <summary>
    /// Validates every tensor of <paramref name="inputs"/> for <paramref name="head"/> (dtype, shape against the head,
    /// value range) and returns the inputs with int32 ids, positions and class labels converted to int64, as HF
    /// accepts them. Called once per public forward, before anything runs.
    /// </summary>
    public static DebertaInputs Prepare(DebertaConfig config, HeadKind head, DebertaInputs inputs)
    {
        var ids = inputs.InputIds;
        RequireInteger("input_ids", ids);
        if (head == HeadKind.MultipleChoice)
        {
            if (ids.dim() != 3)
                throw new DebertaInputException($"Multiple choice input_ids must be [batch, choices, length], got {Shape(ids)}.");
            if (ids.shape[0] == 0 || ids.shape[1] == 0 || ids.shape[2] == 0)
                throw new DebertaInputException($"Multiple choice input_ids {Shape(ids)} is empty: give at least one batch row, one choice and one token.");
        }
        else if (ids.dim() != 2)
            throw new DebertaInputException($"input_ids must be [batch, length], got shape {Shape(ids)}.");

        var prepared = inputs with
        {
            InputIds = ToInt64(ids),
            TokenTypeIds = inputs.TokenTypeIds is { } tt ? ToInt64(RequireInteger("token_type_ids", tt)) : null,
            PositionIds = inputs.PositionIds is { } pos ? ToInt64(RequireInteger("position_ids", pos)) : null,
            Labels = inputs.Labels is { } labels ? CheckLabels(config, head, ids, labels) : null,
            StartPositions = inputs.StartPositions is { } sp ? CheckPositions("start_positions", sp, ids) : null,
            EndPositions = inputs.EndPositions is { } ep ? CheckPositions("end_positions", ep, ids) : null,
        };
        if (head != HeadKind.MultipleChoice) Check(config, prepared);
        else
        {
            // The encoder sees [B·C, L]: check the same rules there (range of ids, masks of the same shape).
            long length = ids.shape[2];
            foreach (var (name, t) in new[] { ("attention_mask", prepared.AttentionMask), ("token_type_ids", prepared.TokenTypeIds), ("position_ids", prepared.PositionIds) })
                if (t is not null && !t.shape.SequenceEqual(ids.shape))
                    throw new DebertaInputException($"{name} has shape {Shape(t)} but input_ids has {Shape(ids)}.");
            using var flatIds = prepared.InputIds.reshape(-1, length);
            using var flatMask = prepared.AttentionMask?.reshape(-1, length);
            using var flatTypes = prepared.TokenTypeIds?.reshape(-1, length);
            using var flatPositions = prepared.PositionIds?.reshape(-1, length);
            Check(config, new DebertaInputs(flatIds) { AttentionMask = flatMask, TokenTypeIds = flatTypes, PositionIds = flatPositions });
        }
        return prepared;
    }

    /// <summary>The encoder's own checks of [B, L] inputs (ids in the vocabulary, masks and positions fitting).</summary>
    public static void Check(DebertaConfig config, DebertaInputs inputs)
    {
        var ids = inputs.InputIds;
        if (ids.dim() != 2)
            throw new DebertaInputException($"input_ids must be [batch, length], got shape {Shapes.Format(ids.shape)}.");
        RequireInteger("input_ids", ids);
        if (ids.shape[0] == 0 || ids.shape[1] == 0)
            throw new DebertaInputException($"input_ids is empty (shape {Shapes.Format(ids.shape)}); give at least one token in one sequence.");
        CheckRange("input_ids", ids, config.VocabSize, "vocab_size");
        CheckSameShape("attention_mask", inputs.AttentionMask, ids);
        CheckSameShape("token_type_ids", inputs.TokenTypeIds, ids);
        if (inputs.TokenTypeIds is { } tt)
        {
            RequireInteger("token_type_ids", tt);
            // Without a token-type table HF ignores them; with one they index it.
            if (config.TypeVocabSize > 0) CheckRange("token_type_ids", tt, config.TypeVocabSize, "type_vocab_size");
        }
        if (inputs.PositionIds is { } p) RequireInteger("position_ids", p);
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

    private static Tensor CheckLabels(DebertaConfig config, HeadKind head, Tensor ids, Tensor labels)
    {
        long batch = ids.shape[0];
        int n = config.NumLabels;
        switch (head)
        {
            case HeadKind.MaskedLM:
            case HeadKind.TokenClassification:
            {
                if (!labels.shape.SequenceEqual(ids.shape))
                    throw new DebertaInputException(
                        $"labels for {(head == HeadKind.MaskedLM ? "masked LM" : "token classification")} must have the shape of input_ids {Shape(ids)} (one label per token, −100 = ignore), got {Shape(labels)}.");
                RequireInteger("labels", labels);
                long limit = head == HeadKind.MaskedLM ? config.VocabSize : n;
                CheckRange("labels", labels, limit, head == HeadKind.MaskedLM ? "vocab_size" : "num_labels", ignore: -100);
                return ToInt64(labels);
            }
            case HeadKind.MultipleChoice:
            {
                if (labels.numel() != batch || labels.dim() > 1 && labels.shape.Count(d => d != 1) > 1)
                    throw new DebertaInputException($"Multiple choice labels must be [batch] = [{batch}] (the index of the right choice), got {Shape(labels)}.");
                RequireInteger("labels", labels);
                CheckRange("labels", labels, ids.shape[1], "the number of choices");
                return ToInt64(labels);
            }
            case HeadKind.SequenceClassification:
                return CheckSequenceLabels(config, batch, n, labels);
            case HeadKind.ReplacedTokenDetection:
                if (!labels.shape.SequenceEqual(ids.shape))
                    throw new DebertaInputException($"Replaced-token labels have shape {Shape(labels)} but input_ids has {Shape(ids)}.");
                return labels;
            default:
                return labels; // the base model and QA ignore labels, as HF's do
        }
    }

    private static Tensor CheckSequenceLabels(DebertaConfig config, long batch, int n, Tensor labels)
    {
        bool perRow = labels.dim() == 1 || labels.dim() == 2 && labels.shape[1] == 1;
        string problem = config.ProblemType ?? (n == 1 ? "regression" : perRow ? "single_label_classification" : "soft labels");
        switch (problem)
        {
            case "regression":
                if (labels.numel() != batch * n)
                    throw new DebertaInputException($"Regression labels must hold [batch, num_labels] = [{batch}, {n}] values, got {Shape(labels)}.");
                RequireFloat("labels", labels, "regression targets");
                return labels;
            case "single_label_classification":
                if (!perRow || labels.shape[0] != batch)
                    throw new DebertaInputException($"Sequence classification labels must be [batch] = [{batch}] class indices, got {Shape(labels)}.");
                RequireInteger("labels", labels);
                // HF leaves rows with a negative label out of the loss when problem_type is not set.
                CheckRange("labels", labels, n, "num_labels", ignoreNegative: config.ProblemType is null);
                return ToInt64(labels);
            default: // multi_label_classification, soft labels
                if (labels.dim() != 2 || labels.shape[0] != batch || labels.shape[1] != n)
                    throw new DebertaInputException($"{(problem == "soft labels" ? "Soft" : "Multi-label")} labels must be [batch, num_labels] = [{batch}, {n}], got {Shape(labels)}.");
                if (problem == "soft labels") RequireFloat("labels", labels, "class probabilities");
                return labels;
        }
    }

    private static Tensor CheckPositions(string name, Tensor positions, Tensor ids)
    {
        long batch = ids.shape[0];
        if (positions.numel() != batch || positions.dim() > 2 || positions.dim() == 2 && positions.shape[1] != 1)
            throw new DebertaInputException($"{name} must be [batch] = [{batch}] token indices, got {Shape(positions)}.");
        RequireInteger(name, positions);
        return ToInt64(positions); // out-of-range positions are clamped and ignored, as HF does
    }

    private static Tensor RequireInteger(string name, Tensor t)
    {
        if (t.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new DebertaInputException($"{name} must be int64 (or int32), got {t.dtype}{(t.is_floating_point() ? ": ids and class labels are indices, not values" : "")}.");
        return t;
    }

    private static void RequireFloat(string name, Tensor t, string what)
    {
        if (!t.is_floating_point())
            throw new DebertaInputException($"{name} must be floating point ({what}), got {t.dtype}.");
    }

    private static Tensor ToInt64(Tensor t) => t.dtype == ScalarType.Int64 ? t : t.to(ScalarType.Int64);

    private static string Shape(Tensor t) => $"{Shapes.Format(t.shape)}";

    private static void CheckSameShape(string name, Tensor? t, Tensor ids, bool allowBroadcastBatch = false)
    {
        if (t is null) return;
        bool same = t.shape.SequenceEqual(ids.shape)
                    || (allowBroadcastBatch && t.dim() == 2 && t.shape[0] == 1 && t.shape[1] == ids.shape[1]);
        if (!same)
            throw new DebertaInputException(
                $"{name} has shape {Shapes.Format(t.shape)} but input_ids has {Shapes.Format(ids.shape)}.");
    }

    /// <summary>
    /// Values in [0, limit), apart from <paramref name="ignore"/> (or any negative value when
    /// <paramref name="ignoreNegative"/>); one host sync when they are.
    /// </summary>
    private static void CheckRange(string name, Tensor t, long limit, string limitName, long? ignore = null, bool ignoreNegative = false)
    {
        if (t.numel() == 0) return;
        using var scope = NewDisposeScope();
        var values = t.to(ScalarType.Int64);
        if (ignore is { } skip) values = values.masked_fill(values.eq(skip), 0);
        if (ignoreNegative) values = values.clamp_min(0);
        var minMax = stack([values.min(), values.max()]).cpu();     // [2], one sync
        var pair = minMax.data<long>().ToArray();
        long min = pair[0], max = pair[1];
        if (min >= 0 && max < limit) return;
        long bad = min < 0 ? min : max;
        var where = values.eq(bad).nonzero()[0];
        var at = string.Join(", ", Enumerable.Range(0, (int)where.shape[0]).Select(i => where[i].to(ScalarType.Int64).item<long>()));
        string allowed = ignore is { } i ? $" or {i} (ignored)" : ignoreNegative ? " or negative (ignored)" : "";
        throw new DebertaInputException($"{name} value {bad} at [{at}] is outside [0, {limit}) ({limitName}){allowed}.");
    }
}
