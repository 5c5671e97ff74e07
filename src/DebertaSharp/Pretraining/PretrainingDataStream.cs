namespace DebertaSharp.Pretraining;

/// <summary>
/// Masked batches streamed from a <see cref="TextCorpus"/>: examples pass through a seeded shuffle buffer, are grouped
/// into batches and masked by the collator. Everything random is a pure function of (seed, epoch, batch index), so a
/// resumed run re-creates an epoch's batches exactly by skipping the ones already trained on, with no data-loader state.
/// </summary>
public sealed class PretrainingDataStream
{
    private readonly TextCorpus _corpus;
    private readonly Tokenization.DebertaTokenizerBase _tokenizer;
    private readonly MlmCollator _collator;

    /// <summary>Creates the stream.</summary>
    /// <exception cref="TrainingException">A batch size, length or shuffle buffer out of range.</exception>
    public PretrainingDataStream(TextCorpus corpus, Tokenization.DebertaTokenizerBase tokenizer, MlmCollator collator,
        int batchSize, int maxLength, int seed, int shuffleBuffer = 10_000)
    {
        _corpus = corpus ?? throw new ArgumentNullException(nameof(corpus));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _collator = collator ?? throw new ArgumentNullException(nameof(collator));
        if (batchSize < 1) throw new TrainingException($"Batch size {batchSize} must be at least 1.");
        if (maxLength < 3) throw new TrainingException($"Maximum sequence length {maxLength} must be at least 3.");
        if (shuffleBuffer < 1) throw new TrainingException($"Shuffle buffer {shuffleBuffer} must be at least 1 (1 = corpus order).");
        BatchSize = batchSize;
        MaxLength = maxLength;
        Seed = seed;
        ShuffleBuffer = shuffleBuffer;
    }

    /// <summary>Sequences per batch (the last batch of an epoch may be smaller).</summary>
    public int BatchSize { get; }

    /// <summary>Maximum tokens per sequence, <c>[CLS]</c> and <c>[SEP]</c> included.</summary>
    public int MaxLength { get; }

    /// <summary>The seed every shuffle and mask derives from.</summary>
    public int Seed { get; }

    /// <summary>Examples held by the shuffle buffer (1 keeps corpus order).</summary>
    public int ShuffleBuffer { get; }

    /// <summary>The corpus.</summary>
    public TextCorpus Corpus => _corpus;

    /// <summary>
    /// The batches of <paramref name="epoch"/>, starting after the first <paramref name="skipBatches"/> (which are
    /// formed but not masked). Each batch's masking uses its own generator seeded from (seed, epoch, index).
    /// </summary>
    /// <exception cref="DatasetException">The corpus yields no example at all.</exception>
    public IEnumerable<MaskedBatch> Epoch(long epoch, long skipBatches = 0)
    {
        long index = 0;
        var batch = new List<PretrainingSequence>(BatchSize);
        foreach (var sequence in Shuffled(_corpus.Sequences(_tokenizer, MaxLength), new Random(MixSeed(Seed, epoch, -1))))
        {
            batch.Add(sequence);
            if (batch.Count < BatchSize) continue;
            if (index >= skipBatches) yield return _collator.Collate(batch, new Random(MixSeed(Seed, epoch, index)));
            index++;
            batch = new List<PretrainingSequence>(BatchSize);
        }
        if (batch.Count > 0)
        {
            if (index >= skipBatches) yield return _collator.Collate(batch, new Random(MixSeed(Seed, epoch, index)));
            index++;
        }
        if (index == 0)
            throw new DatasetException($"The corpus ({string.Join(", ", _corpus.Files)}) has no non-blank line to train on.");
    }

    /// <summary>A bounded-memory shuffle: a buffer of <see cref="ShuffleBuffer"/> examples, each output a random member replaced by the next input.</summary>
    private IEnumerable<PretrainingSequence> Shuffled(IEnumerable<PretrainingSequence> source, Random random)
    {
        var buffer = new List<PretrainingSequence>(Math.Min(ShuffleBuffer, 4096));
        foreach (var item in source)
        {
            if (buffer.Count < ShuffleBuffer) { buffer.Add(item); continue; }
            int j = random.Next(buffer.Count);
            yield return buffer[j];
            buffer[j] = item;
        }
        while (buffer.Count > 0)
        {
            int j = random.Next(buffer.Count);
            yield return buffer[j];
            buffer[j] = buffer[^1];
            buffer.RemoveAt(buffer.Count - 1);
        }
    }

    /// <summary>A 31-bit seed from (seed, epoch, index) by SplitMix64 finalisation (stable across processes, unlike HashCode).</summary>
    internal static int MixSeed(int seed, long epoch, long index)
    {
        ulong x = (ulong)(uint)seed;
        foreach (long part in (ReadOnlySpan<long>)[epoch, index])
        {
            x += 0x9E3779B97F4A7C15UL + (ulong)part;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            x ^= x >> 31;
        }
        return (int)(x & 0x7FFFFFFF);
    }
}
