using DebertaSharp.Tokenization;

namespace DebertaSharp.Pretraining;

/// <summary>
/// One tokenised pre-training example before masking: ids with their template tokens (<c>[CLS] … [SEP]</c>), which
/// positions may become targets, and where words start (for whole-word masking). All lists have the same length.
/// </summary>
public sealed record PretrainingSequence
{
    /// <summary>Token ids, template tokens included.</summary>
    public required IReadOnlyList<int> InputIds { get; init; }

    /// <summary>Whether each position may become a target: false for special tokens and padding.</summary>
    public required IReadOnlyList<bool> Maskable { get; init; }

    /// <summary>Whether each position starts a word (true for every special token and every first piece of a word).</summary>
    public required IReadOnlyList<bool> WordStarts { get; init; }

    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Count;

    /// <summary>
    /// An example from a tokenizer encoding: special tokens (<see cref="TokenEncoding.SpecialTokensMask"/>) and padding
    /// (<see cref="TokenEncoding.AttentionMask"/> 0) are not maskable; padding is dropped (<see cref="MaskedBatch.ToInputs"/> pads again).
    /// </summary>
    public static PretrainingSequence FromEncoding(TokenEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        var ids = new List<int>(encoding.Length);
        var special = new List<bool>(encoding.Length);
        var tokens = new List<string>(encoding.Length);
        for (int i = 0; i < encoding.Length; i++)
        {
            if (encoding.AttentionMask[i] == 0) continue;
            ids.Add(encoding.InputIds[i]);
            special.Add(encoding.SpecialTokensMask[i] != 0);
            tokens.Add(encoding.Tokens[i]);
        }
        return new PretrainingSequence
        {
            InputIds = ids,
            Maskable = special.ConvertAll(s => !s),
            WordStarts = WordBoundaries.Starts(tokens, special),
        };
    }
}
