using DebertaSharp.Tokenization;

namespace DebertaSharp.Pretraining;

/// <summary>
/// Masked-language-model collator: chooses the targets of a list of <see cref="PretrainingSequence"/>s and corrupts them
/// (padding to the longest happens when the batch becomes tensors, in <see cref="MaskedBatch.ToInputs"/>).
/// <list type="bullet">
/// <item>Per sequence, exactly max(1, round(rate × maskable)) targets when it has maskable tokens (as the original
/// <c>NGramMaskGenerator</c> and HF's whole-word collator count them, instead of an independent coin per token):
/// candidate units (tokens, or whole words with <see cref="MaskingOptions.WholeWordMasking"/>) are shuffled and taken
/// while they fit; a word that would overshoot the count is skipped, so words are never split.</item>
/// <item>Special tokens and padding are never targets.</item>
/// <item>Each target independently becomes <c>[MASK]</c>, a random non-special token from the tokenizer's vocabulary,
/// or stays (80/10/10 by default).</item>
/// </list>
/// All randomness comes from the <see cref="Random"/> passed in, so a batch is a pure function of its seed.
/// </summary>
public sealed class MlmCollator
{
    private readonly MaskingOptions _options;
    private readonly int _maskId;
    private readonly int _padId;
    private readonly int[] _randomPool;

    /// <summary>Creates a collator for <paramref name="tokenizer"/>'s <c>[MASK]</c>, <c>[PAD]</c> and vocabulary.</summary>
    /// <exception cref="TrainingException">The tokenizer has no mask token, or the options are invalid.</exception>
    public MlmCollator(DebertaTokenizerBase tokenizer, MaskingOptions? options = null)
        : this(tokenizer?.MaskTokenId ?? throw new TrainingException("The tokenizer has no [MASK] token; masked-LM pre-training needs one."),
            tokenizer.PadTokenId,
            Enumerable.Range(0, tokenizer.VocabularySize).Where(id => !tokenizer.AllSpecialIds.Contains(id)),
            options)
    {
    }

    /// <summary>Creates a collator from explicit ids: the mask and pad ids and the ids random replacements draw from.</summary>
    /// <exception cref="TrainingException">No replacement ids while random replacement is on, or invalid options.</exception>
    public MlmCollator(int maskTokenId, int padTokenId, IEnumerable<int> replacementIds, MaskingOptions? options = null)
    {
        _options = options ?? new MaskingOptions();
        _options.Validate();
        _maskId = maskTokenId;
        _padId = padTokenId;
        _randomPool = replacementIds.ToArray();
        if (_randomPool.Length == 0 && _options.RandomTokenFraction > 0)
            throw new TrainingException("No non-special token ids to draw random replacements from.");
    }

    /// <summary>The masking options.</summary>
    public MaskingOptions Options => _options;

    /// <summary>The <c>[MASK]</c> id.</summary>
    public int MaskTokenId => _maskId;

    /// <summary>The padding id.</summary>
    public int PadTokenId => _padId;

    /// <summary>
    /// Masks <paramref name="sequences"/> with randomness from <paramref name="random"/> (sequence by sequence, in
    /// order); the batch pads only when it becomes tensors (<see cref="MaskedBatch.ToInputs"/>).
    /// </summary>
    /// <exception cref="TrainingException">An empty list, or a sequence whose lists differ in length.</exception>
    public MaskedBatch Collate(IReadOnlyList<PretrainingSequence> sequences, Random random)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(random);
        if (sequences.Count == 0) throw new TrainingException("Cannot collate an empty batch.");
        var ids = new int[sequences.Count][];
        var labels = new int[sequences.Count][];
        for (int b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            if (s.Maskable.Count != s.Length || s.WordStarts.Count != s.Length)
                throw new TrainingException($"Sequence {b} has {s.Length} ids but {s.Maskable.Count} maskable flags and {s.WordStarts.Count} word starts.");
            (ids[b], labels[b]) = Mask(s, random);
        }
        return new MaskedBatch { InputIds = ids, Labels = labels, PadTokenId = _padId };
    }

    /// <summary>
    /// One sequence's corrupted ids and labels (its own length): the targets, then per target in ascending order one
    /// draw for [MASK] / random / keep and, for a random token, one more for which.
    /// </summary>
    private (int[] Ids, int[] Labels) Mask(PretrainingSequence s, Random random)
    {
        var ids = s.InputIds.ToArray();
        var labels = new int[s.Length];
        Array.Fill(labels, MaskedBatch.IgnoreLabel);
        foreach (int i in ChooseTargets(s, random))
        {
            labels[i] = s.InputIds[i];
            double r = random.NextDouble();
            if (r < _options.MaskTokenFraction) ids[i] = _maskId;
            else if (r < _options.MaskTokenFraction + _options.RandomTokenFraction) ids[i] = _randomPool[random.Next(_randomPool.Length)];
        }
        return (ids, labels);
    }

    /// <summary>The target positions of one sequence, in ascending order.</summary>
    internal List<int> ChooseTargets(PretrainingSequence s, Random random)
    {
        var units = Units(s);
        int maskable = units.Sum(u => u.Count);
        var chosen = new List<int>();
        if (maskable == 0) return chosen;
        int wanted = Math.Max(1, (int)Math.Round(maskable * _options.MaskRate, MidpointRounding.AwayFromZero));
        // Fisher–Yates: a uniformly random order of the units.
        for (int i = units.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (units[i], units[j]) = (units[j], units[i]);
        }
        foreach (var unit in units)
        {
            if (chosen.Count >= wanted) break;
            if (chosen.Count + unit.Count > wanted) continue;   // never split a word
            chosen.AddRange(unit);
        }
        if (chosen.Count == 0) chosen.AddRange(units[0]);    // every word longer than the budget: take one anyway
        chosen.Sort();
        return chosen;
    }

    /// <summary>Maskable positions grouped into units: single tokens, or whole words.</summary>
    private List<List<int>> Units(PretrainingSequence s)
    {
        var units = new List<List<int>>();
        for (int i = 0; i < s.Length; i++)
        {
            if (!s.Maskable[i]) continue;
            bool continues = _options.WholeWordMasking && i > 0 && !s.WordStarts[i] && s.Maskable[i - 1];
            if (continues) units[^1].Add(i);
            else units.Add([i]);
        }
        return units;
    }
}
