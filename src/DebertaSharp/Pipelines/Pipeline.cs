using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>
/// What every task pipeline shares: a model with the head the task needs, its tokenizer, batching, the longest input
/// the model is given, and running the model in inference mode with dropout off on the model's device.
/// </summary>
/// <remarks>
/// A pipeline built with <c>FromPretrained</c> owns its model and disposes it; one built from a model you pass in
/// leaves the model to you. Pipelines are not thread-safe (the model's eval/train state is switched per call).
/// </remarks>
public abstract class Pipeline : IDisposable
{
    /// <summary>Length used when neither the tokenizer nor an absolute position table sets a limit (what DeBERTa was pre-trained on).</summary>
    public const int DefaultMaxLength = 512;

    private readonly bool _ownsModel;
    private int _batchSize = 8;
    private int? _maxLength;

    /// <summary>Checks that <paramref name="model"/> has the head <paramref name="head"/> and that the tokenizer's ids fit its vocabulary.</summary>
    /// <param name="model">The model.</param>
    /// <param name="tokenizer">The tokenizer of the model's checkpoint.</param>
    /// <param name="head">The head this task needs; <c>null</c> when any head will do (the task reads the encoder only).</param>
    /// <param name="task">The task's name, for error messages.</param>
    /// <param name="ownsModel">Whether <see cref="Dispose()"/> disposes the model.</param>
    /// <exception cref="DebertaConfigurationException">The model has another head, or the tokenizer has more ids than the model's vocabulary.</exception>
    private protected Pipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, HeadKind? head, string task, bool ownsModel)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (head is HeadKind needed && model.Head != needed)
        {
            throw new DebertaConfigurationException(
                $"The {task} pipeline needs a model with the {needed} head (…{Architectures.Suffix(needed)}), but this model is {model.ArchitectureName}.");
        }

        if (tokenizer.VocabularySize > model.Config.VocabSize)
        {
            throw new DebertaConfigurationException(
                $"The tokenizer has {tokenizer.VocabularySize} tokens but the model's vocab_size is {model.Config.VocabSize}: they do not belong together.");
        }

        Model = model;
        Tokenizer = tokenizer;
        _ownsModel = ownsModel;
    }

    /// <summary>The model the pipeline runs.</summary>
    public DebertaPreTrainedModel Model { get; }

    /// <summary>The tokenizer that turns text into the model's ids and offsets into the original text.</summary>
    public DebertaTokenizerBase Tokenizer { get; }

    /// <summary>How many sequences go through the model in one forward pass (default 8).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a value below 1.</exception>
    public int BatchSize
    {
        get => _batchSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _batchSize = value;
        }
    }

    /// <summary>
    /// The longest sequence (special tokens included) the model is given; <c>null</c> (default) means
    /// <see cref="EffectiveMaxLength"/>'s rule.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a value below 4.</exception>
    public int? MaxLength
    {
        get => _maxLength;
        set
        {
            if (value is int v)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(v, 4);
            }

            _maxLength = value;
        }
    }

    /// <summary>
    /// <see cref="MaxLength"/> when set; otherwise the tokenizer's <c>model_max_length</c>, capped by
    /// <c>max_position_embeddings</c> for a model with absolute positions; <see cref="DefaultMaxLength"/> when neither limits it
    /// (DeBERTa-v3 tokenizers say "no limit").
    /// </summary>
    public int EffectiveMaxLength
    {
        get
        {
            if (_maxLength is int set)
            {
                return set;
            }

            int limit = Tokenizer.ModelMaxLength ?? DefaultMaxLength;
            return Model.Config.PositionBiasedInput ? Math.Min(limit, Model.Config.MaxPositionEmbeddings) : limit;
        }
    }

    /// <summary>Disposes the model when the pipeline loaded it itself.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the model when the pipeline owns it.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing && _ownsModel)
        {
            Model.Dispose();
        }
    }

    /// <summary>Loads the model (with <paramref name="head"/>, else the head of <c>config.json</c>'s <c>architectures</c>) and the tokenizer of a checkpoint folder.</summary>
    private protected static (DebertaPreTrainedModel Model, DebertaTokenizerBase Tokenizer) Load(string folder, Device? device, ScalarType? dtype, HeadKind? head = null)
    {
        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.All);
        DebertaTokenizerBase tokenizer = AutoTokenizer.FromPretrained(folder);
        return (AutoModel.FromPretrained(folder, head, device, dtype), tokenizer);
    }

    /// <summary>
    /// Runs <paramref name="body"/> with dropout off and autograd off (inference mode), restoring the model's training
    /// state afterwards. Tensors made inside should live in a dispose scope of the body.
    /// </summary>
    private protected T Infer<T>(Func<T> body)
    {
        bool wasTraining = Model.training;
        Model.eval();
        try
        {
            using var mode = inference_mode();
            return body();
        }
        finally
        {
            if (wasTraining)
            {
                Model.train();
            }
        }
    }

    /// <summary>Splits <paramref name="count"/> rows into consecutive batches of at most <paramref name="batchSize"/> (default <see cref="BatchSize"/>).</summary>
    private protected IEnumerable<(int Start, int Count)> Batches(int count, int? batchSize = null)
    {
        int size = batchSize ?? _batchSize;
        for (int start = 0; start < count; start += size)
        {
            yield return (start, Math.Min(size, count - start));
        }
    }

    /// <summary>
    /// Runs the model over <paramref name="encodings"/> in batches of <see cref="BatchSize"/> and returns, for each
    /// picked output tensor, each row's values flattened in float32: <c>result[pick][row]</c>. With
    /// <paramref name="perToken"/> the tensors are [B, L, …] and each row is cut to its encoding's own length (no padding).
    /// </summary>
    private protected float[][][] ForwardRows(IReadOnlyList<TokenEncoding> encodings, bool perToken, params Func<DebertaOutput, Tensor>[] picks) =>
        ForwardRows(encodings, perToken, _batchSize, [.. picks.Select(pick => (Func<DebertaOutput, DebertaInputs, Tensor>)((output, _) => pick(output)))]);

    /// <summary>
    /// <see cref="ForwardRows(IReadOnlyList{TokenEncoding}, bool, Func{DebertaOutput, Tensor}[])"/> with a batch size of
    /// this call only (the pipeline's <see cref="BatchSize"/> is not touched, so a call never changes another's batching)
    /// and picks that also read the batch's padded inputs (a pooling over the attention mask).
    /// </summary>
    private protected float[][][] ForwardRows(IReadOnlyList<TokenEncoding> encodings, bool perToken, int batchSize, params Func<DebertaOutput, DebertaInputs, Tensor>[] picks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var result = new float[picks.Length][][];
        for (int p = 0; p < picks.Length; p++)
        {
            result[p] = new float[encodings.Count][];
        }

        Infer(() =>
        {
            foreach (var (start, count) in Batches(encodings.Count, batchSize))
            {
                using var scope = NewDisposeScope();
                var batch = new TokenEncoding[count];
                for (int i = 0; i < count; i++)
                {
                    batch[i] = encodings[start + i];
                }

                DebertaInputs inputs = ToInputs(batch);
                long padded = inputs.InputIds.shape[1];
                using DebertaOutput output = Model.Forward(inputs);
                for (int p = 0; p < picks.Length; p++)
                {
                    float[] values = ToArray(picks[p](output, inputs));
                    int rowSize = values.Length / count;
                    int perPosition = perToken ? (int)(rowSize / padded) : 0;
                    for (int i = 0; i < count; i++)
                    {
                        int keep = perToken ? batch[i].Length * perPosition : rowSize;
                        result[p][start + i] = values.AsSpan(i * rowSize, keep).ToArray();
                    }
                }
            }

            return 0;
        });
        return result;
    }

    /// <summary>Pads encodings of one batch to their longest, right side, as the tokenizer would.</summary>
    private protected DebertaInputs ToInputs(IReadOnlyList<TokenEncoding> encodings) =>
        TokenizerInputs.Collate(encodings.Count, i => encodings[i].InputIds, i => encodings[i].AttentionMask, i => encodings[i].TokenTypeIds,
            Tokenizer.PadTokenId, Model.Device);

    /// <summary>Copies a float tensor to a managed array on the CPU in float32.</summary>
    private protected static float[] ToArray(Tensor t) => TensorOps.ToFloats(t);

    /// <summary>The label name of class <paramref name="id"/>: <c>id2label</c>, else HF's default <c>LABEL_{id}</c>.</summary>
    private protected string LabelOf(int id) => Model.Config.Id2Label.TryGetValue(id, out string? name) ? name : $"LABEL_{id}";

    /// <summary>Throws the pipeline's error for an empty or null text.</summary>
    private protected static string RequireText(string? text, string what)
    {
        if (text is null || string.IsNullOrWhiteSpace(text))
        {
            throw new DebertaInputException($"The {what} is {(text is null ? "null" : "empty")}; give some text.");
        }

        return text;
    }
}
