using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// Predicts the tokens hidden behind <c>[MASK]</c> (HF's <c>fill-mask</c> pipeline). Only the masked positions are
/// decoded, through <see cref="DebertaForMaskedLM.ForwardMaskedTargets"/>: with the Enhanced Mask Decoder when the
/// checkpoint carries it (<see cref="UsesEnhancedMaskDecoder"/>), which is how pre-trained DeBERTa predicts masks,
/// otherwise with HF's plain head.
/// </summary>
/// <example>
/// <code>
/// using var fill = FillMaskPipeline.FromPretrained("path/to/deberta-v3-base");
/// foreach (var p in fill.Predict("Paris is the [MASK] of France.")[0].Predictions)
///     Console.WriteLine($"{p.TokenString} {p.Score:F3}");
/// </code>
/// </example>
public sealed class FillMaskPipeline : Pipeline
{
    private readonly DebertaForMaskedLM _mlm;
    private readonly int _maskId;

    /// <summary>Wraps a masked-LM model and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">A <see cref="DebertaForMaskedLM"/>.</param>
    /// <param name="tokenizer">Its tokenizer; must have a mask token.</param>
    /// <exception cref="DebertaConfigurationException">Another head, a tokenizer without <c>[MASK]</c>, or a tokenizer larger than the vocabulary.</exception>
    public FillMaskPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private FillMaskPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, HeadKind.MaskedLM, "fill-mask", ownsModel)
    {
        _mlm = (DebertaForMaskedLM)model;
        _maskId = tokenizer.MaskTokenId ?? throw new DebertaConfigurationException(
            "The tokenizer has no mask token (mask_token in tokenizer_config.json / special_tokens_map.json); fill-mask needs one.");
    }

    /// <summary>Loads model and tokenizer from a checkpoint folder whose <c>architectures</c> is a masked LM.</summary>
    /// <param name="folder">Checkpoint folder: config.json, weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights (default as stored, converted to float32 if needed).</param>
    /// <exception cref="DebertaSharpException">Missing or bad files, or a checkpoint of another head.</exception>
    public static FillMaskPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype);
        try
        {
            return new FillMaskPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Whether predictions come from the Enhanced Mask Decoder (otherwise from HF's plain MLM head).</summary>
    public bool UsesEnhancedMaskDecoder => _mlm.UseEnhancedMaskDecoder;

    /// <summary>The mask token to write into texts, e.g. <c>[MASK]</c>.</summary>
    public string MaskToken => Tokenizer.Mask!.Content;

    /// <summary>Predicts every <c>[MASK]</c> of one text.</summary>
    /// <param name="text">Text with at least one mask token.</param>
    /// <param name="options">Top-k and targets; <c>null</c> for the defaults.</param>
    /// <returns>One entry per mask, in text order.</returns>
    /// <exception cref="DebertaInputException">Empty text, no mask, a text longer than <see cref="Pipeline.EffectiveMaxLength"/>, or bad options.</exception>
    public IReadOnlyList<MaskPredictions> Predict(string text, FillMaskOptions? options = null) => Predict([text], options)[0];

    /// <summary>Predicts every <c>[MASK]</c> of several texts, <see cref="Pipeline.BatchSize"/> texts per forward pass.</summary>
    /// <param name="texts">Texts, each with at least one mask token.</param>
    /// <param name="options">Top-k and targets; <c>null</c> for the defaults.</param>
    /// <returns>Per text, one entry per mask in text order.</returns>
    /// <exception cref="DebertaInputException">An empty text, a text without mask, one longer than <see cref="Pipeline.EffectiveMaxLength"/>, or bad options.</exception>
    public IReadOnlyList<IReadOnlyList<MaskPredictions>> Predict(IReadOnlyList<string> texts, FillMaskOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= FillMaskOptions.Default;
        if (options.TopK < 1)
        {
            throw new DebertaInputException($"top_k must be at least 1, got {options.TopK}.");
        }

        int[]? targets = options.Targets is null ? null : ResolveTargets(options.Targets);
        var encodings = new TokenEncoding[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            string text = RequireText(texts[i], texts.Count == 1 ? "text" : $"text {i}");
            TokenEncoding e = Tokenizer.Encode(text);
            if (!e.InputIds.Contains(_maskId))
            {
                throw new DebertaInputException(
                    $"{(texts.Count == 1 ? "The text" : $"Text {i}")} has no {MaskToken} token; write {MaskToken} where the word to predict goes: '{Shorten(text)}'.");
            }

            if (e.Length > EffectiveMaxLength)
            {
                throw new DebertaInputException(
                    $"{(texts.Count == 1 ? "The text" : $"Text {i}")} is {e.Length} tokens long; the model takes at most {EffectiveMaxLength} (Pipeline.MaxLength).");
            }

            encodings[i] = e;
        }

        var results = new IReadOnlyList<MaskPredictions>[texts.Count];
        Infer(() =>
        {
            foreach (var (start, count) in Batches(texts.Count))
            {
                var batch = encodings.AsSpan(start, count).ToArray();
                var (scores, ids) = PredictBatch(batch, targets, options.TopK);
                int row = 0;   // targets come in row-major (text, position) order
                for (int b = 0; b < count; b++)
                {
                    results[start + b] = Collect(batch[b], scores, ids, ref row);
                }
            }

            return 0;
        });
        return results;
    }

    /// <summary>Top-k probabilities and token ids for every mask of the batch, rows in (text, position) order.</summary>
    private (float[][] Scores, long[][] Ids) PredictBatch(TokenEncoding[] batch, int[]? targets, int topK)
    {
        using var scope = NewDisposeScope();
        DebertaInputs inputs = ToInputs(batch);
        using MaskedTargetsOutput output = _mlm.ForwardMaskedTargets(inputs, inputs.InputIds.eq(_maskId));
        var probs = output.Logits.to(ScalarType.Float32).softmax(-1);                   // [T, vocab]
        Tensor values, indices;
        if (targets is not null)
        {
            var candidates = tensor(targets.Select(t => (long)t).ToArray(), ScalarType.Int64, probs.device);
            var picked = probs.index_select(1, candidates);                             // [T, targets]
            (values, var order) = picked.topk(Math.Min(topK, targets.Length), dim: 1);
            indices = candidates.index_select(0, order.reshape(-1)).reshape(order.shape);
        }
        else
        {
            // Rows past the tokenizer (v3: 128000 pieces, 128100 rows) have no token to show.
            var known = probs.narrow(1, 0, Tokenizer.VocabularySize);
            (values, indices) = known.topk(Math.Min(topK, Tokenizer.VocabularySize), dim: 1);
        }

        long rows = values.shape[0], k = values.shape[1];
        float[] flatValues = ToArray(values);
        long[] flatIds = indices.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var scores = new float[rows][];
        var ids = new long[rows][];
        for (int r = 0; r < rows; r++)
        {
            scores[r] = flatValues.AsSpan((int)(r * k), (int)k).ToArray();
            ids[r] = flatIds.AsSpan((int)(r * k), (int)k).ToArray();
        }

        return (scores, ids);
    }

    private List<MaskPredictions> Collect(TokenEncoding encoding, float[][] scores, long[][] ids, ref int row)
    {
        var masks = new List<int>();
        for (int i = 0; i < encoding.Length; i++)
        {
            if (encoding.InputIds[i] == _maskId)
            {
                masks.Add(i);
            }
        }

        var result = new List<MaskPredictions>(masks.Count);
        foreach (int position in masks)
        {
            var predictions = new List<FillMaskPrediction>(ids[row].Length);
            for (int j = 0; j < ids[row].Length; j++)
            {
                int id = (int)ids[row][j];
                predictions.Add(new FillMaskPrediction(
                    id, Tokenizer.IdToToken(id), Tokenizer.Decode([id]), scores[row][j], Filled(encoding, position, id, single: masks.Count == 1)));
            }

            result.Add(new MaskPredictions(position, encoding.Offsets[position], predictions));
            row++;
        }

        return result;
    }

    /// <summary>HF's <c>sequence</c>: the text's tokens (no template tokens) with the prediction at the mask, decoded.</summary>
    private string Filled(TokenEncoding encoding, int position, int id, bool single)
    {
        var ids = new List<int>(encoding.Length);
        for (int i = 0; i < encoding.Length; i++)
        {
            if (encoding.SequenceIds[i] is not null)
            {
                ids.Add(i == position ? id : encoding.InputIds[i]);
            }
        }

        return Tokenizer.Decode(ids, skipSpecialTokens: single);
    }

    private int[] ResolveTargets(IReadOnlyList<string> targets)
    {
        if (targets.Count == 0)
        {
            throw new DebertaInputException("The list of target tokens is empty; give at least one target or none at all.");
        }

        var ids = new List<int>();
        foreach (string target in targets)
        {
            if (string.IsNullOrWhiteSpace(target))
            {
                throw new DebertaInputException("A target token is empty.");
            }

            int id = Tokenizer.TokenToId(target);
            if (id == Tokenizer.UnkTokenId && target != Tokenizer.Unk.Content)
            {
                IReadOnlyList<string> pieces = Tokenizer.Tokenize(target);
                if (pieces.Count != 1)
                {
                    throw new DebertaInputException(
                        $"Target '{target}' is not one token: it tokenizes to {pieces.Count} pieces ({string.Join(" ", pieces)}).");
                }

                id = Tokenizer.TokenToId(pieces[0]);
                if (id == Tokenizer.UnkTokenId)
                {
                    throw new DebertaInputException($"Target '{target}' is not in the vocabulary.");
                }
            }

            if (!ids.Contains(id))
            {
                ids.Add(id);
            }
        }

        return [.. ids];
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
