using DebertaSharp.Pretraining;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Pretraining;

/// <summary>The masking statistics and invariants of <see cref="MlmCollator"/> on large synthetic samples.</summary>
public class MlmCollatorTests
{
    private const int Mask = 999, Pad = 0, Cls = 1, Sep = 2, Unk = 3;
    private static readonly int[] Replacements = Enumerable.Range(4, 995).ToArray();   // 4…998: every non-special id

    /// <summary>
    /// Sequences like a tokenizer's: [CLS] pieces [SEP], a word every 1–4 pieces, a special [UNK] now and then,
    /// lengths 5–80 so that batches pad.
    /// </summary>
    private static List<PretrainingSequence> Synthetic(int count, int seed)
    {
        var random = new Random(seed);
        var result = new List<PretrainingSequence>();
        for (int s = 0; s < count; s++)
        {
            int n = random.Next(3, 79);
            var ids = new List<int> { Cls };
            var maskable = new List<bool> { false };
            var starts = new List<bool> { true };
            int left = 0;
            for (int i = 0; i < n; i++)
            {
                bool special = random.NextDouble() < 0.03;
                ids.Add(special ? Unk : random.Next(4, 999));
                maskable.Add(!special);
                bool start = left == 0 || special || !maskable[^2];
                if (start) left = random.Next(1, 5);
                starts.Add(start);
                left--;
            }
            ids.Add(Sep);
            maskable.Add(false);
            starts.Add(true);
            result.Add(new PretrainingSequence { InputIds = ids, Maskable = maskable, WordStarts = starts });
        }
        return result;
    }

    private static List<MaskedBatch> CollateAll(MlmCollator collator, List<PretrainingSequence> sequences, int batchSize, int seed)
    {
        var random = new Random(seed);
        return sequences.Chunk(batchSize).Select(chunk => collator.Collate(chunk, random)).ToList();
    }

    /// <summary>Counts of (targets, maskable, [MASK], random, kept) over batches built from <paramref name="sequences"/>.</summary>
    private static (int Targets, int Maskable, int Masked, int Random, int Kept) Count(List<PretrainingSequence> sequences, List<MaskedBatch> batches, int batchSize)
    {
        int targets = 0, maskable = 0, masked = 0, random = 0, kept = 0;
        for (int b = 0; b < batches.Count; b++)
        {
            var batch = batches[b];
            for (int r = 0; r < batch.BatchSize; r++)
            {
                var s = sequences[b * batchSize + r];
                maskable += s.Maskable.Count(m => m);
                for (int i = 0; i < s.Length; i++)
                {
                    if (batch.Labels[r][i] == MaskedBatch.IgnoreLabel) continue;
                    targets++;
                    Assert.Equal(s.InputIds[i], batch.Labels[r][i]);
                    long input = batch.InputIds[r][i];
                    if (input == Mask) masked++;
                    else if (input == s.InputIds[i]) kept++;
                    else random++;
                }
            }
        }
        return (targets, maskable, masked, random, kept);
    }

    [Fact]
    public void FifteenPercentOfMaskableTokensSplitEightyTenTen()
    {
        var sequences = Synthetic(4000, 11);
        var collator = new MlmCollator(Mask, Pad, Replacements);
        var batches = CollateAll(collator, sequences, 16, 5);
        var (targets, maskable, masked, random, kept) = Count(sequences, batches, 16);

        Assert.True(targets > 20_000, $"only {targets} targets");
        Assert.InRange((double)targets / maskable, 0.145, 0.160);   // rounding per sequence adds a little on short ones
        Assert.InRange((double)masked / targets, 0.79, 0.81);
        Assert.InRange((double)random / targets, 0.093, 0.107);
        Assert.InRange((double)kept / targets, 0.093, 0.107);
    }

    [Fact]
    public void EachSequenceGetsRoundedFifteenPercentAndAtLeastOne()
    {
        var sequences = Synthetic(500, 3);
        var collator = new MlmCollator(Mask, Pad, Replacements);
        var random = new Random(9);
        foreach (var s in sequences)
        {
            int maskable = s.Maskable.Count(m => m);
            var targets = collator.ChooseTargets(s, random);
            int expected = maskable == 0 ? 0 : Math.Max(1, (int)Math.Round(maskable * 0.15, MidpointRounding.AwayFromZero));
            Assert.Equal(expected, targets.Count);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NeverSpecialTokensOrPadding(bool wholeWord)
    {
        var sequences = Synthetic(2000, 21);
        var collator = new MlmCollator(Mask, Pad, Replacements, new MaskingOptions { WholeWordMasking = wholeWord, MaskRate = 0.5 });
        var batches = CollateAll(collator, sequences, 8, 1);
        int padded = 0;
        for (int b = 0; b < batches.Count; b++)
        {
            var batch = batches[b];
            var (ids, mask, labels) = Padded(batch);
            for (int r = 0; r < batch.BatchSize; r++)
            {
                var s = sequences[b * 8 + r];
                Assert.Equal(s.Length, batch.InputIds[r].Count);
                for (int i = 0; i < batch.SequenceLength; i++)
                {
                    bool pad = i >= s.Length;
                    Assert.Equal(pad ? 0 : 1, mask[r, i]);
                    if (!pad) Assert.Equal(batch.InputIds[r][i], ids[r, i]);
                    if (!pad) Assert.Equal(batch.Labels[r][i], labels[r, i]);
                    if (pad || !s.Maskable[i])
                    {
                        padded += pad ? 1 : 0;
                        Assert.Equal(MaskedBatch.IgnoreLabel, labels[r, i]);
                        Assert.Equal(pad ? Pad : s.InputIds[i], ids[r, i]);
                    }
                }
            }
        }
        Assert.True(padded > 1000);
    }

    /// <summary>The batch as the model sees it: input ids, attention mask and labels padded by <see cref="MaskedBatch.ToInputs"/>.</summary>
    private static (long[,] Ids, long[,] Mask, long[,] Labels) Padded(MaskedBatch batch)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var inputs = batch.ToInputs();
        Assert.Null(inputs.TokenTypeIds);
        long[,] Read(TorchSharp.torch.Tensor t)
        {
            Assert.Equal([batch.BatchSize, batch.SequenceLength], t.shape);
            var flat = t.data<long>().ToArray();
            var result = new long[batch.BatchSize, batch.SequenceLength];
            Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(long));
            return result;
        }
        return (Read(inputs.InputIds), Read(inputs.AttentionMask!), Read(inputs.Labels!));
    }

    /// <summary>Word groups of a sequence: each maskable word start with the maskable non-starts that follow it.</summary>
    private static List<List<int>> Words(PretrainingSequence s)
    {
        var words = new List<List<int>>();
        for (int i = 0; i < s.Length; i++)
        {
            if (!s.Maskable[i]) continue;
            if (s.WordStarts[i] || !s.Maskable[i - 1]) words.Add([i]);
            else words[^1].Add(i);
        }
        return words;
    }

    private static (int Whole, int Split) WordOutcomes(bool wholeWord)
    {
        var sequences = Synthetic(3000, 31);
        var collator = new MlmCollator(Mask, Pad, Replacements, new MaskingOptions { WholeWordMasking = wholeWord });
        var batches = CollateAll(collator, sequences, 10, 2);
        int whole = 0, split = 0;
        for (int b = 0; b < batches.Count; b++)
            for (int r = 0; r < batches[b].BatchSize; r++)
                foreach (var word in Words(sequences[b * 10 + r]).Where(w => w.Count > 1))
                {
                    int chosen = word.Count(i => batches[b].Labels[r][i] != MaskedBatch.IgnoreLabel);
                    if (chosen == word.Count) whole++;
                    else if (chosen > 0) split++;
                }
        return (whole, split);
    }

    [Fact]
    public void WholeWordMaskingTakesEveryPieceOfAWordOrNone()
    {
        var (whole, split) = WordOutcomes(wholeWord: true);
        Assert.True(whole > 1000, $"only {whole} multi-piece words chosen");
        Assert.Equal(0, split);
        // Without whole-word masking the same data does split words, so the check above can fail.
        Assert.True(WordOutcomes(wholeWord: false).Split > 1000);
    }

    [Fact]
    public void WholeWordMaskingKeepsTheRateAndTheSplit()
    {
        var sequences = Synthetic(4000, 41);
        var collator = new MlmCollator(Mask, Pad, Replacements, new MaskingOptions { WholeWordMasking = true });
        var (targets, maskable, masked, random, kept) = Count(sequences, CollateAll(collator, sequences, 16, 7), 16);
        Assert.InRange((double)targets / maskable, 0.13, 0.16);      // whole words may undershoot the budget a little
        Assert.InRange((double)masked / targets, 0.79, 0.81);
        Assert.InRange((double)random / targets, 0.09, 0.11);
        Assert.InRange((double)kept / targets, 0.09, 0.11);
    }

    [Fact]
    public void AllMaskOptionsReplaceEveryTargetByMask()
    {
        var sequences = Synthetic(500, 51);
        var collator = new MlmCollator(Mask, Pad, Replacements, MaskingOptions.AllMask);
        var (targets, _, masked, _, _) = Count(sequences, CollateAll(collator, sequences, 10, 3), 10);
        Assert.Equal(targets, masked);
    }

    [Fact]
    public void SameSeedSameBatch()
    {
        var sequences = Synthetic(32, 61);
        var collator = new MlmCollator(Mask, Pad, Replacements, new MaskingOptions { WholeWordMasking = true });
        var a = collator.Collate(sequences, new Random(4));
        var b = collator.Collate(sequences, new Random(4));
        var c = collator.Collate(sequences, new Random(5));
        Assert.Equal(a.InputIds, b.InputIds);
        Assert.Equal(a.Labels, b.Labels);
        Assert.NotEqual(a.Labels, c.Labels);
    }

    [Fact]
    public void TokenizerCollatorDrawsReplacementsFromNonSpecialIds()
    {
        var tokenizer = AutoTokenizer.FromPretrained(PretrainingSamples.TinyV3);
        var collator = new MlmCollator(tokenizer, new MaskingOptions { MaskTokenFraction = 0, RandomTokenFraction = 1, MaskRate = 1 });
        Assert.Equal(1000, collator.MaskTokenId);
        var encoding = tokenizer.Encode("The river runs past the old mill and turns the wheel all day long.");
        var sequence = PretrainingSequence.FromEncoding(encoding);
        var random = new Random(0);
        for (int k = 0; k < 200; k++)
        {
            var batch = collator.Collate([sequence], random);
            for (int i = 1; i < sequence.Length - 1; i++)
                Assert.DoesNotContain(batch.InputIds[0][i], tokenizer.AllSpecialIds);
        }
    }

    [Theory]
    [InlineData(0.0, 0.8, 0.1)]
    [InlineData(1.5, 0.8, 0.1)]
    [InlineData(0.15, 0.9, 0.2)]
    [InlineData(0.15, -0.1, 0.1)]
    public void InvalidOptionsAreRejected(double rate, double mask, double random)
    {
        var ex = Assert.Throws<TrainingException>(() =>
            new MlmCollator(Mask, Pad, Replacements, new MaskingOptions { MaskRate = rate, MaskTokenFraction = mask, RandomTokenFraction = random }));
        Assert.Contains(rate <= 0 || rate > 1 ? rate.ToString(System.Globalization.CultureInfo.CurrentCulture) : "fraction", ex.Message, StringComparison.OrdinalIgnoreCase);
    }
}
