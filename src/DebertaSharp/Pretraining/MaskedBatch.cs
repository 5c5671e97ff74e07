using DebertaSharp.Modeling;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// A padded, masked batch as plain arrays [batch, length]: corrupted inputs, attention mask and MLM labels
/// (the original token at each target, −100 elsewhere, HF's convention). Tensors are made by <see cref="ToInputs"/>.
/// </summary>
public sealed record MaskedBatch
{
    /// <summary>The value of <see cref="Labels"/> at positions that are not targets.</summary>
    public const long IgnoreLabel = -100;

    /// <summary>Inputs after masking; padding holds the pad id.</summary>
    public required long[,] InputIds { get; init; }

    /// <summary>1 for tokens, 0 for padding.</summary>
    public required long[,] AttentionMask { get; init; }

    /// <summary>The original token at each target, <see cref="IgnoreLabel"/> elsewhere.</summary>
    public required long[,] Labels { get; init; }

    /// <summary>Number of sequences.</summary>
    public int BatchSize => InputIds.GetLength(0);

    /// <summary>Padded length.</summary>
    public int SequenceLength => InputIds.GetLength(1);

    /// <summary>Number of targets in the batch.</summary>
    public int TargetCount
    {
        get
        {
            int n = 0;
            foreach (long label in Labels) if (label != IgnoreLabel) n++;
            return n;
        }
    }

    /// <summary>Number of real (non-padding) tokens in the batch.</summary>
    public int TokenCount
    {
        get
        {
            int n = 0;
            foreach (long m in AttentionMask) if (m != 0) n++;
            return n;
        }
    }

    /// <summary>
    /// Model inputs on <paramref name="device"/> (int64 <c>input_ids</c>, <c>attention_mask</c>, <c>labels</c>).
    /// The tensors belong to the caller's dispose scope.
    /// </summary>
    public DebertaInputs ToInputs(Device? device = null) => new(tensor(InputIds, device: device))
    {
        AttentionMask = tensor(AttentionMask, device: device),
        Labels = tensor(Labels, device: device),
    };
}
