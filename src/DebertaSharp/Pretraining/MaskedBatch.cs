using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// A masked batch as token lists, one row per sequence at its own length (as <see cref="TokenEncoding"/> holds them):
/// corrupted inputs and MLM labels (the original token at each target, −100 elsewhere, HF's convention). Padding and
/// the attention mask are made only by <see cref="ToInputs"/>, through the library's one collator of token lists.
/// </summary>
public sealed record MaskedBatch
{
    /// <summary>The value of <see cref="Labels"/> at positions that are not targets (and of padding in <see cref="ToInputs"/>).</summary>
    public const int IgnoreLabel = -100;

    /// <summary>Inputs after masking, one row per sequence, unpadded.</summary>
    public required IReadOnlyList<IReadOnlyList<int>> InputIds { get; init; }

    /// <summary>The original token at each target, <see cref="IgnoreLabel"/> elsewhere; rows as long as <see cref="InputIds"/>' rows.</summary>
    public required IReadOnlyList<IReadOnlyList<int>> Labels { get; init; }

    /// <summary>The id <see cref="ToInputs"/> pads <c>input_ids</c> with.</summary>
    public required int PadTokenId { get; init; }

    /// <summary>Number of sequences.</summary>
    public int BatchSize => InputIds.Count;

    /// <summary>Padded length: the longest row.</summary>
    public int SequenceLength => InputIds.Count == 0 ? 0 : InputIds.Max(row => row.Count);

    /// <summary>Number of targets in the batch.</summary>
    public int TargetCount => Labels.Sum(row => row.Count(label => label != IgnoreLabel));

    /// <summary>Number of real (non-padding) tokens in the batch.</summary>
    public int TokenCount => InputIds.Sum(row => row.Count);

    /// <summary>
    /// Model inputs on <paramref name="device"/>, padded on the right to <see cref="SequenceLength"/>: int64
    /// <c>input_ids</c> (padding <see cref="PadTokenId"/>), <c>attention_mask</c> (0 on padding) and <c>labels</c>
    /// (<see cref="IgnoreLabel"/> on padding), [<see cref="BatchSize"/>, <see cref="SequenceLength"/>].
    /// The tensors belong to the caller's dispose scope.
    /// </summary>
    /// <exception cref="TrainingException">A labels row differs in length from its input row.</exception>
    public DebertaInputs ToInputs(Device? device = null)
    {
        if (Labels.Count != InputIds.Count)
            throw new TrainingException($"The masked batch has {InputIds.Count} input rows but {Labels.Count} label rows.");
        for (int r = 0; r < InputIds.Count; r++)
        {
            if (Labels[r].Count != InputIds[r].Count)
                throw new TrainingException($"Row {r} of the masked batch has {InputIds[r].Count} input ids but {Labels[r].Count} labels.");
        }

        int length = SequenceLength;
        var inputs = TokenizerInputs.Collate(BatchSize, r => InputIds[r], null, null, PadTokenId, device, length: length);
        var labels = tensor(BatchEncoding.PadRows(BatchSize, r => Labels[r], length, IgnoreLabel), [BatchSize, length], ScalarType.Int64, device);
        return inputs with { Labels = labels };
    }
}
