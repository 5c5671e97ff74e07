using DebertaSharp.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Input embeddings: word (+ absolute position when <c>position_biased_input</c>) (+ token type when
/// <c>type_vocab_size</c> &gt; 0), projected by <c>embed_proj</c> when <c>embedding_size</c> ≠ <c>hidden_size</c>,
/// then LayerNorm, then multiplied by the attention mask. HF keys: <c>embeddings.*</c>.
/// </summary>
public sealed class DebertaEmbeddings : nn.Module
{
    private readonly Embedding word_embeddings;
    private readonly Embedding? position_embeddings;
    private readonly Embedding? token_type_embeddings;
    private readonly Linear? embed_proj;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly DebertaConfig _config;

    /// <summary>Builds the embeddings; <paramref name="withPositionTable"/> forces the absolute table (used by the Enhanced Mask Decoder).</summary>
    public DebertaEmbeddings(DebertaConfig config, bool withPositionTable = false) : base("embeddings")
    {
        _config = config;
        int e = config.EffectiveEmbeddingSize;
        word_embeddings = nn.Embedding(config.VocabSize, e, padding_idx: config.PadTokenId);
        if (config.PositionBiasedInput || withPositionTable)
            position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, e);
        if (config.TypeVocabSize > 0)
            token_type_embeddings = nn.Embedding(config.TypeVocabSize, e);
        if (e != config.HiddenSize)
            embed_proj = nn.Linear(e, config.HiddenSize, hasBias: false);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <summary>The word-embedding matrix [vocab, embedding_size] (tied to the MLM decoder).</summary>
    public Parameter WordEmbeddings => word_embeddings.weight!;

    internal Embedding WordEmbeddingModule => word_embeddings;

    /// <summary>The absolute position table [max_position_embeddings, embedding_size], if present.</summary>
    public Parameter? PositionEmbeddings => position_embeddings?.weight;

    /// <summary>
    /// Embeds <paramref name="inputIds"/> [B, L] (int64). <paramref name="mask"/> [B, L] zeroes padded positions.
    /// Returns [B, L, hidden].
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? tokenTypeIds = null, Tensor? positionIds = null, Tensor? mask = null)
    {
        using var scope = NewDisposeScope();
        long seqLen = inputIds.shape[1];
        var embeddings = word_embeddings.forward(inputIds);                               // [B, L, E]
        if (_config.PositionBiasedInput && position_embeddings is not null)
        {
            positionIds ??= arange(seqLen, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
            embeddings = embeddings + position_embeddings.forward(positionIds);
        }
        if (token_type_embeddings is not null)
        {
            tokenTypeIds ??= zeros_like(inputIds);
            embeddings = embeddings + token_type_embeddings.forward(tokenTypeIds);
        }
        if (embed_proj is not null) embeddings = Dense.Forward(embed_proj, embeddings);           // [B, L, H]
        embeddings = LayerNorm.forward(embeddings);
        if (mask is not null) embeddings = embeddings * mask.unsqueeze(2).to(embeddings.dtype);
        return dropout.forward(embeddings).MoveToOuterDisposeScope();
    }
}
