using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>
/// Tokenised examples of one fine-tuning task, ready for the <see cref="Trainer"/>: each item (a feature; a QA
/// context window, a multiple-choice question with all its choices) is kept unpadded and padded per batch
/// (dynamic padding) by <see cref="Collate"/>. The dataset also knows its head, labels and how to score predictions.
/// </summary>
public abstract class FineTuningDataset
{
    /// <summary>Creates the dataset.</summary>
    /// <param name="source">The file it was read from (for messages).</param>
    /// <param name="padTokenId">The tokenizer's padding id.</param>
    protected FineTuningDataset(string source, int padTokenId)
    {
        Source = source;
        PadTokenId = padTokenId;
    }

    /// <summary>The file the examples came from.</summary>
    public string Source { get; }

    /// <summary>The id padded positions get.</summary>
    public int PadTokenId { get; }

    /// <summary>The model head this task trains.</summary>
    public abstract HeadKind Head { get; }

    /// <summary>Number of items (features).</summary>
    public abstract int Count { get; }

    /// <summary>Number of source examples (QA: questions, which may span several features).</summary>
    public virtual int ExampleCount => Count;

    /// <summary>The source example item <paramref name="index"/> belongs to (QA: the question of a context window).</summary>
    public virtual int ExampleOf(int index) => index;

    /// <summary>
    /// Splits the examples at random (fixed by <paramref name="seed"/>) into a training part and a held-out part of about
    /// <paramref name="heldOutShare"/> of the examples; items of one example (QA windows) stay together.
    /// </summary>
    /// <exception cref="DatasetException">The share is not in (0, 1) or leaves one side empty.</exception>
    public (FineTuningSubset Train, FineTuningSubset HeldOut) Split(double heldOutShare, int seed)
    {
        if (!(heldOutShare > 0 && heldOutShare < 1)) throw new DatasetException($"The held-out share must be in (0, 1), got {heldOutShare}.");
        int heldOutExamples = (int)Math.Round(heldOutShare * ExampleCount);
        if (heldOutExamples < 1 || heldOutExamples >= ExampleCount)
            throw new DatasetException($"'{Source}' has {ExampleCount} examples: a held-out share of {heldOutShare} leaves a side empty.");
        // A stream of its own (int.MaxValue), apart from the training epochs' shuffles.
        var heldOut = TrainingSeed.Permutation(ExampleCount, seed, int.MaxValue).Take(heldOutExamples).ToHashSet();
        var inHeldOut = Enumerable.Range(0, Count).ToLookup(i => heldOut.Contains(ExampleOf(i)));
        return (new FineTuningSubset(this, [.. inHeldOut[false]]), new FineTuningSubset(this, [.. inHeldOut[true]]));
    }

    /// <summary>Tokens in item <paramref name="index"/> (multiple choice: its longest choice), for length bucketing.</summary>
    public abstract int LengthOf(int index);

    /// <summary>
    /// Model inputs with labels for the items <paramref name="indices"/>, padded to the longest of them, on
    /// <paramref name="device"/>. The tensors are made in the caller's dispose scope.
    /// </summary>
    public abstract DebertaInputs Collate(IReadOnlyList<int> indices, Device device);

    /// <summary>A fresh accumulator that scores this dataset's predictions.</summary>
    public abstract TaskEvaluator CreateEvaluator();

    /// <summary>The metric (without <c>eval_</c>) that picks the best checkpoint by default.</summary>
    public abstract string DefaultMetric { get; }

    /// <summary>Writes this task's labels and <c>problem_type</c> into a configuration a new model is built from.</summary>
    public abstract void ConfigureModel(DebertaConfig config);

    /// <summary>Checks that a model fits this dataset (head and number of labels).</summary>
    /// <exception cref="TrainingException">It does not; the message says what differs.</exception>
    public virtual void CheckModel(DebertaPreTrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Head != Head)
            throw new TrainingException($"The data in '{Source}' trains a {Head} head but the model is {model.ArchitectureName}.");
    }

    /// <summary>Pads int sequences to <paramref name="length"/> into a row-major int64 buffer.</summary>
    protected static long[] PadRows(IReadOnlyList<int[]> rows, int length, long padValue) =>
        BatchEncoding.PadRows(rows.Count, r => rows[r], length, padValue);

    /// <summary>Ids, attention mask and token types for <paramref name="ids"/>/<paramref name="types"/> padded to their longest, shaped [rows, L] (or <paramref name="shape"/> + [L]).</summary>
    protected (Tensor Ids, Tensor Mask, Tensor Types) PadBatch(IReadOnlyList<int[]> ids, IReadOnlyList<int[]> types, Device device, long[]? shape = null)
    {
        DebertaInputs inputs = TokenizerInputs.Collate(ids.Count, i => ids[i], null, i => types[i], PadTokenId, device, shape);
        return (inputs.InputIds, inputs.AttentionMask!, inputs.TokenTypeIds!);
    }
}

/// <summary>Collects predictions batch by batch and turns them into task metrics at the end.</summary>
public abstract class TaskEvaluator
{
    /// <summary>Adds the model's output for the dataset items <paramref name="indices"/> (in the order collated).</summary>
    public abstract void Add(IReadOnlyList<int> indices, DebertaOutput output);

    /// <summary>The metrics over everything added, by name without the <c>eval_</c> prefix (e.g. <c>accuracy</c>).</summary>
    /// <exception cref="TrainingException">Nothing was added.</exception>
    public abstract IReadOnlyDictionary<string, double> Compute();

    /// <summary>Reads a float tensor to the host as float32 values in row-major order.</summary>
    protected static float[] ToFloats(Tensor t) => TensorOps.ToFloats(t);
}
