using DebertaSharp.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// HF's <c>ContextPooler</c>: dense on the first token, then <c>pooler_hidden_act</c>. HF keys: <c>pooler.dense.*</c>.
/// </summary>
public sealed class ContextPooler : nn.Module
{
    private readonly Linear dense;
    private readonly Dropout dropout;
    private readonly string _activation;

    /// <summary>Builds the pooler (<c>pooler_hidden_size</c> wide).</summary>
    public ContextPooler(DebertaConfig config) : base("pooler")
    {
        int size = config.EffectivePoolerHiddenSize;
        if (size != config.HiddenSize)
            throw new DebertaConfigurationException($"pooler_hidden_size {size} must equal hidden_size {config.HiddenSize}: the pooler reads the encoder's first token.");
        dense = nn.Linear(size, size);
        dropout = nn.Dropout(config.PoolerDropout);
        _activation = config.PoolerHiddenAct;
        RegisterComponents();
    }

    /// <summary>act(dense(dropout(hidden[:, 0]))) → [B, pooler_hidden_size].</summary>
    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var first = dropout.forward(hidden.select(1, 0));
        return Dense.Forward(dense, first, _activation).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The MLM prediction head: logits = LayerNorm(act(dense(h))) · Eᵀ + bias, with E the word embeddings (tied decoder)
/// or, in the legacy layout with <c>tie_word_embeddings: false</c>, an own decoder.
/// Two checkpoint layouts carry it: legacy HF <c>cls.predictions.{transform.dense, transform.LayerNorm, bias}</c>
/// and the original code's / newer HF <c>lm_predictions.lm_head.{dense, LayerNorm, bias}</c>.
/// </summary>
public interface IMaskedLMHead
{
    /// <summary>Vocabulary scores [B, L, vocab] for hidden states [B, L, hidden].</summary>
    Tensor Forward(Tensor hidden, Tensor wordEmbeddings);
}

/// <summary>dense + activation + LayerNorm shared by both MLM head layouts.</summary>
public sealed class MaskedLMTransform : nn.Module
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly string _activation;

    /// <summary>Builds dense(hidden → embedding_size) and LayerNorm(embedding_size).</summary>
    public MaskedLMTransform(DebertaConfig config) : base("transform")
    {
        dense = nn.Linear(config.HiddenSize, config.EffectiveEmbeddingSize);
        LayerNorm = nn.LayerNorm(config.EffectiveEmbeddingSize, config.LayerNormEps);
        _activation = config.HiddenAct;
        RegisterComponents();
    }

    /// <summary>LayerNorm(act(dense(h))).</summary>
    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(Dense.Forward(dense, hidden, _activation)).MoveToOuterDisposeScope();
    }
}

/// <summary>Legacy HF layout <c>cls.predictions.*</c>: <c>transform</c>, <c>bias</c> and, when untied, <c>decoder</c>.</summary>
public sealed class LegacyLMPredictionHead : nn.Module, IMaskedLMHead
{
    private readonly MaskedLMTransform transform;
    private readonly Parameter bias;
    private readonly Linear? decoder;

    /// <summary>Builds the head.</summary>
    public LegacyLMPredictionHead(DebertaConfig config) : base("predictions")
    {
        transform = new MaskedLMTransform(config);
        bias = new Parameter(zeros(config.VocabSize));
        if (!config.TieWordEmbeddings)
            decoder = nn.Linear(config.EffectiveEmbeddingSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor hidden, Tensor wordEmbeddings)
    {
        using var scope = NewDisposeScope();
        var h = transform.Forward(hidden);
        var logits = decoder is null ? h.matmul(wordEmbeddings.t()) : Dense.Forward(decoder, h);
        return (logits + bias).MoveToOuterDisposeScope();
    }
}

/// <summary>Original / newer layout <c>lm_predictions.lm_head.{dense, LayerNorm, bias}</c>; always tied.</summary>
public sealed class LMPredictionHead : nn.Module, IMaskedLMHead
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Parameter bias;
    private readonly string _activation;

    /// <summary>Builds the head.</summary>
    public LMPredictionHead(DebertaConfig config) : base("lm_head")
    {
        dense = nn.Linear(config.HiddenSize, config.EffectiveEmbeddingSize);
        LayerNorm = nn.LayerNorm(config.EffectiveEmbeddingSize, config.LayerNormEps);
        bias = new Parameter(zeros(config.VocabSize));
        _activation = config.HiddenAct;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor hidden, Tensor wordEmbeddings)
    {
        using var scope = NewDisposeScope();
        var h = LayerNorm.forward(Dense.Forward(dense, hidden, _activation));
        return (h.matmul(wordEmbeddings.t()) + bias).MoveToOuterDisposeScope();
    }
}

/// <summary>A named container, so that a head's keys read <c>cls.predictions.*</c> or <c>lm_predictions.lm_head.*</c>.</summary>
internal sealed class Container : nn.Module
{
    public Container(string name, string childName, nn.Module child) : base(name)
    {
        register_module(childName, child);
    }
}
