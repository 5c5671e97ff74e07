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
        long b = batch.BatchSize, l = batch.SequenceLength;
        Tensor Field(EncodingField field) => tensor(batch.ToInt64Flat(field), [b, l], ScalarType.Int64, device);
        return new DebertaInputs(Field(EncodingField.InputIds))
        {
            AttentionMask = Field(EncodingField.AttentionMask),
            TokenTypeIds = Field(EncodingField.TokenTypeIds),
        };
    }
}
