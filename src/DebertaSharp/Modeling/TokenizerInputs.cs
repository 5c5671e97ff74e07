using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>Turns tokenizer output into model inputs.</summary>
public static class TokenizerInputs
{
    /// <summary>
    /// int64 tensors <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> [B, L] of a rectangular batch
    /// (encode with padding), created on <paramref name="device"/> (the model's device).
    /// </summary>
    /// <exception cref="TokenizerException">The batch is not rectangular.</exception>
    public static DebertaInputs ToInputs(this BatchEncoding batch, Device? device = null)
    {
        int length = batch.SequenceLength;      // throws for a ragged batch
        IReadOnlyList<TokenEncoding> e = batch.Encodings;
        return Collate(e.Count, i => e[i].InputIds, i => e[i].AttentionMask, i => e[i].TokenTypeIds, 0, device, length: length);
    }

    /// <summary>
    /// The one collator of token lists into model inputs: <c>input_ids</c> (padded with <paramref name="padTokenId"/>),
    /// <c>attention_mask</c> (0 on padding; <c>null</c> rows mean 1 on every token) and <c>token_type_ids</c> (0 on
    /// padding; none when <paramref name="types"/> is <c>null</c>), int64 [count, L] — or <paramref name="shape"/> + [L] — padded on the right to the longest row (or
    /// <paramref name="length"/>), on <paramref name="device"/>, in the caller's dispose scope.
    /// </summary>
    internal static DebertaInputs Collate(int count, Func<int, IReadOnlyList<int>> ids, Func<int, IReadOnlyList<int>>? mask,
        Func<int, IReadOnlyList<int>>? types, int padTokenId, Device? device, long[]? shape = null, int? length = null)
    {
        int l = length ?? Enumerable.Range(0, count).Max(i => ids(i).Count);
        long[] dims = [.. shape ?? [count], l];
        var ones = mask is null ? Enumerable.Repeat(1, l).ToArray() : null;
        Func<int, IReadOnlyList<int>> maskRow = mask ?? (i => new ArraySegment<int>(ones!, 0, ids(i).Count));
        Tensor Rows(Func<int, IReadOnlyList<int>> row, long pad) => tensor(BatchEncoding.PadRows(count, row, l, pad), dims, ScalarType.Int64, device);
        return new DebertaInputs(Rows(ids, padTokenId))
        {
            AttentionMask = Rows(maskRow, 0),
            TokenTypeIds = types is null ? null : Rows(types, 0),
        };
    }
}
