namespace DebertaSharp.Pretraining;

/// <summary>
/// How <see cref="MlmCollator"/> chooses and corrupts targets. The defaults are BERT's: 15 % of the maskable tokens
/// become targets; of those 80 % are replaced by <c>[MASK]</c>, 10 % by a random token and 10 % kept.
/// Replaced-token detection uses <see cref="AllMask"/> (every target becomes <c>[MASK]</c>), as the original
/// microsoft/DeBERTa RTD task does (<c>NGramMaskGenerator(mask_prob=1, keep_prob=0)</c>).
/// </summary>
public sealed record MaskingOptions
{
    /// <summary>The options of <c>rtd_task.py</c>: 15 % targets, all replaced by <c>[MASK]</c>.</summary>
    public static MaskingOptions AllMask { get; } = new() { MaskTokenFraction = 1.0, RandomTokenFraction = 0.0 };

    /// <summary>Fraction of the maskable tokens (not special, not padding) of each sequence that become targets.</summary>
    public double MaskRate { get; init; } = 0.15;

    /// <summary>Fraction of the targets whose input becomes <c>[MASK]</c>.</summary>
    public double MaskTokenFraction { get; init; } = 0.8;

    /// <summary>Fraction of the targets whose input becomes a random non-special token; the rest keep their token.</summary>
    public double RandomTokenFraction { get; init; } = 0.1;

    /// <summary>
    /// Choose whole words: all pieces of a word (a piece that starts with SentencePiece's <c>▁</c> or byte-level BPE's
    /// <c>Ġ</c> and the pieces that continue it) become targets together or not at all.
    /// </summary>
    public bool WholeWordMasking { get; init; }

    /// <summary>Checks the fractions.</summary>
    /// <exception cref="TrainingException">A rate outside (0, 1], a fraction outside [0, 1], or fractions adding up to more than 1.</exception>
    public void Validate()
    {
        if (!(MaskRate > 0 && MaskRate <= 1))
            throw new TrainingException($"Masking rate {MaskRate} must be in (0, 1].");
        if (!(MaskTokenFraction >= 0 && MaskTokenFraction <= 1) || !(RandomTokenFraction >= 0 && RandomTokenFraction <= 1))
            throw new TrainingException($"Masking fractions [MASK] {MaskTokenFraction} and random {RandomTokenFraction} must each be in [0, 1].");
        if (MaskTokenFraction + RandomTokenFraction > 1 + 1e-12)
            throw new TrainingException($"Masking fractions [MASK] {MaskTokenFraction} + random {RandomTokenFraction} exceed 1.");
    }
}
