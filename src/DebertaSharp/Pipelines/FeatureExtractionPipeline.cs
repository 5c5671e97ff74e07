using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Pipelines;

/// <summary>The last hidden state of one text: one vector per token, special tokens included, no padding.</summary>
/// <param name="Tokens">The tokens, as the tokenizer produced them.</param>
/// <param name="HiddenSize">Width of each vector.</param>
/// <param name="Values">The vectors row-major: token <c>t</c> is <c>Values[t × HiddenSize .. (t + 1) × HiddenSize]</c>.</param>
public sealed record TokenFeatures(IReadOnlyList<string> Tokens, int HiddenSize, float[] Values)
{
    /// <summary>Number of tokens.</summary>
    public int Length => Tokens.Count;

    /// <summary>The vector of token <paramref name="token"/>.</summary>
    public ReadOnlySpan<float> Vector(int token) => Values.AsSpan(token * HiddenSize, HiddenSize);
}

/// <summary>
/// The encoder's last hidden state per token (HF's <c>feature-extraction</c> pipeline), batched; works with a checkpoint
/// of any head (only the encoder is read). Inputs longer than <see cref="Pipeline.EffectiveMaxLength"/> are truncated.
/// </summary>
/// <example>
/// <code>
/// using var features = FeatureExtractionPipeline.FromPretrained("path/to/deberta-v3-base");
/// TokenFeatures f = features.Extract("A sentence.");     // f.Vector(0) is [CLS]'s vector
/// </code>
/// </example>
public sealed class FeatureExtractionPipeline : Pipeline
{
    /// <summary>Wraps a model (any head) and its tokenizer; the model stays yours to dispose.</summary>
    /// <param name="model">The model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <exception cref="DebertaConfigurationException">A tokenizer larger than the vocabulary.</exception>
    public FeatureExtractionPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer) : this(model, tokenizer, ownsModel: false) { }

    private FeatureExtractionPipeline(DebertaPreTrainedModel model, DebertaTokenizerBase tokenizer, bool ownsModel)
        : base(model, tokenizer, head: null, "feature extraction", ownsModel)
    {
    }

    /// <summary>Loads the encoder (a head checkpoint's head is left out) and the tokenizer of a checkpoint folder.</summary>
    /// <param name="folder">Checkpoint folder: config.json, weights, tokenizer files.</param>
    /// <param name="device">Device to run on (default CPU).</param>
    /// <param name="dtype">Floating-point type of the weights.</param>
    /// <exception cref="DebertaSharpException">Missing or bad files.</exception>
    public static FeatureExtractionPipeline FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var (model, tokenizer) = Load(folder, device, dtype, HeadKind.Base);
        try
        {
            return new FeatureExtractionPipeline(model, tokenizer, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The token vectors of one text.</summary>
    /// <exception cref="DebertaInputException">An empty text.</exception>
    public TokenFeatures Extract(string text) => Extract([text])[0];

    /// <summary>The token vectors of several texts, <see cref="Pipeline.BatchSize"/> per forward pass, in input order.</summary>
    /// <exception cref="DebertaInputException">An empty text.</exception>
    public IReadOnlyList<TokenFeatures> Extract(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var encode = new EncodeOptions { MaxLength = EffectiveMaxLength, Truncation = TruncationStrategy.LongestFirst };
        var encodings = new TokenEncoding[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            encodings[i] = Tokenizer.Encode(RequireText(texts[i], texts.Count == 1 ? "text" : $"text {i}"), encode);
        }

        float[][] rows = ForwardRows(encodings, perToken: true, o => o.LastHiddenState)[0];
        int hidden = Model.Config.HiddenSize;
        return [.. rows.Select((values, i) => new TokenFeatures(encodings[i].Tokens, hidden, values))];
    }
}
