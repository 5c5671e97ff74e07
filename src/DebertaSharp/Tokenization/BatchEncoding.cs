namespace DebertaSharp.Tokenization;

/// <summary>
/// The encodings of a batch, in input order, with helpers that lay an integer field out as a row-major
/// <c>long</c> matrix for building int64 tensors (shape <c>[BatchSize, SequenceLength]</c>).
/// </summary>
public sealed record BatchEncoding
{
    /// <summary>Wraps the given encodings.</summary>
    /// <param name="encodings">One encoding per input.</param>
    public BatchEncoding(IReadOnlyList<TokenEncoding> encodings)
        : this(encodings, null)
    {
    }

    /// <summary>Wraps the given encodings and the input each came from.</summary>
    /// <param name="encodings">The encodings (with overflow, every window of every input).</param>
    /// <param name="overflowToSampleMapping">For each encoding the index of its input, or <c>null</c> when each input has one encoding.</param>
    /// <exception cref="ArgumentException">The mapping's count differs from the encodings'.</exception>
    public BatchEncoding(IReadOnlyList<TokenEncoding> encodings, IReadOnlyList<int>? overflowToSampleMapping)
    {
        ArgumentNullException.ThrowIfNull(encodings);
        if (overflowToSampleMapping is not null && overflowToSampleMapping.Count != encodings.Count)
        {
            throw new ArgumentException(
                $"overflow_to_sample_mapping has {overflowToSampleMapping.Count} entries for {encodings.Count} encodings.", nameof(overflowToSampleMapping));
        }

        Encodings = encodings;
        OverflowToSampleMapping = overflowToSampleMapping;
    }

    /// <summary>
    /// With <see cref="EncodeOptions.ReturnOverflowingTokens"/>: for each encoding, the index of the input it is a window of
    /// (HF <c>overflow_to_sample_mapping</c>); <c>null</c> otherwise.
    /// </summary>
    public IReadOnlyList<int>? OverflowToSampleMapping { get; }

    /// <summary>One encoding per input, in input order.</summary>
    public IReadOnlyList<TokenEncoding> Encodings { get; }

    /// <summary>Number of encodings.</summary>
    public int BatchSize => Encodings.Count;

    /// <summary>Whether every encoding has the same length (true after padding, or when the inputs happen to match).</summary>
    public bool IsRectangular => Encodings.Count == 0 || Encodings.All(e => e.Length == Encodings[0].Length);

    /// <summary>The common length of the encodings.</summary>
    /// <exception cref="TokenizerException">The encodings have different lengths (encode with padding).</exception>
    public int SequenceLength
    {
        get
        {
            if (!IsRectangular)
            {
                throw new TokenizerException(
                    "The batch has encodings of different lengths (" + string.Join(", ", Encodings.Select(e => e.Length).Distinct()) +
                    "); encode it with PaddingStrategy.Longest or PaddingStrategy.MaxLength to get a rectangular batch.");
            }

            return Encodings.Count == 0 ? 0 : Encodings[0].Length;
        }
    }

    /// <summary>The field as a <c>[BatchSize, SequenceLength]</c> matrix.</summary>
    /// <param name="field">Which field to lay out.</param>
    /// <exception cref="TokenizerException">The batch is not rectangular.</exception>
    public long[,] ToInt64Matrix(EncodingField field)
    {
        long[] flat = ToInt64Flat(field);
        var result = new long[BatchSize, SequenceLength];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(long));
        return result;
    }

    /// <summary>The field flattened row-major, <c>BatchSize * SequenceLength</c> values (the layout of <c>torch.tensor(data, [B, S])</c>).</summary>
    /// <param name="field">Which field to lay out.</param>
    /// <exception cref="TokenizerException">The batch is not rectangular.</exception>
    public long[] ToInt64Flat(EncodingField field) => PadRows(BatchSize, r => Select(Encodings[r], field), SequenceLength, 0);

    /// <summary>
    /// Rows of token ints laid out row-major in a <c>[count, length]</c> int64 buffer, each padded on the right with
    /// <paramref name="padValue"/>: the one collation of token lists behind every int64 input tensor (tokenizer batches,
    /// pipelines, fine-tuning datasets).
    /// </summary>
    internal static long[] PadRows(int count, Func<int, IReadOnlyList<int>> row, int length, long padValue)
    {
        var flat = new long[count * length];
        for (int r = 0; r < count; r++)
        {
            IReadOnlyList<int> values = row(r);
            int kept = Math.Min(values.Count, length);
            int at = r * length;
            for (int c = 0; c < kept; c++)
            {
                flat[at + c] = values[c];
            }

            if (padValue != 0)
            {
                Array.Fill(flat, padValue, at + kept, length - kept);
            }
        }

        return flat;
    }

    private static IReadOnlyList<int> Select(TokenEncoding encoding, EncodingField field) => field switch
    {
        EncodingField.InputIds => encoding.InputIds,
        EncodingField.TokenTypeIds => encoding.TokenTypeIds,
        EncodingField.AttentionMask => encoding.AttentionMask,
        EncodingField.SpecialTokensMask => encoding.SpecialTokensMask,
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "Unknown encoding field."),
    };
}
