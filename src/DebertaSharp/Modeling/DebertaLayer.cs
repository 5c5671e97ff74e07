using DebertaSharp.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>Residual output of a sub-layer: dense, dropout, LayerNorm(x + residual). HF keys: <c>*.output.*</c>.</summary>
public sealed class DebertaResidualOutput : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> dense;          // a module, so an adapter (LoRA) can stand in for the Linear
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;

    /// <summary>Builds dense(<paramref name="inputSize"/> → hidden) + LayerNorm.</summary>
    public DebertaResidualOutput(DebertaConfig config, int inputSize) : base("output")
    {
        dense = nn.Linear(inputSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <summary>LayerNorm(dropout(dense(<paramref name="x"/>)) + <paramref name="residual"/>).</summary>
    public Tensor Forward(Tensor x, Tensor residual)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(dropout.forward(Dense.Forward(dense, x)) + residual).MoveToOuterDisposeScope();
    }
}

/// <summary>Self-attention plus its residual output. HF keys: <c>attention.self.*</c>, <c>attention.output.*</c>.</summary>
public sealed class DebertaAttention : nn.Module
{
    private readonly DisentangledSelfAttention self;
    private readonly DebertaResidualOutput output;

    /// <summary>Builds the attention block.</summary>
    public DebertaAttention(DebertaConfig config) : base("attention")
    {
        self = new DisentangledSelfAttention(config);
        output = new DebertaResidualOutput(config, config.NumAttentionHeads * config.HeadSize);
        RegisterComponents();
    }

    /// <summary>The disentangled attention of this block.</summary>
    public DisentangledSelfAttention Self => self;

    /// <summary>Attention output [B, Lq, H] (residual is the query input) and optional probabilities.</summary>
    public (Tensor Output, Tensor? Probabilities) Forward(Tensor hidden, AttentionContext context,
        Tensor? queryStates, bool outputAttentions)
    {
        using var scope = NewDisposeScope();
        var (attended, probs) = self.Forward(hidden, context, queryStates, outputAttentions);
        var result = output.Forward(attended, queryStates ?? hidden).MoveToOuterDisposeScope();
        ForwardProfile.Mark("attention output dense + LayerNorm");
        probs?.MoveToOuterDisposeScope();
        return (result, probs);
    }
}

/// <summary>Feed-forward expansion: dense(hidden → intermediate) + activation. HF keys: <c>intermediate.dense.*</c>.</summary>
public sealed class DebertaIntermediate : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> dense;          // a module, so an adapter (LoRA) can stand in for the Linear
    private readonly string _activation;

    /// <summary>Builds the expansion.</summary>
    public DebertaIntermediate(DebertaConfig config) : base("intermediate")
    {
        dense = nn.Linear(config.HiddenSize, config.IntermediateSize);
        _activation = config.HiddenAct;
        RegisterComponents();
    }

    /// <summary>act(dense(x)).</summary>
    public Tensor Forward(Tensor x) => Dense.Forward(dense, x, _activation);
}

/// <summary>One transformer layer: disentangled attention then feed-forward. HF keys: <c>encoder.layer.N.*</c>.</summary>
public sealed class DebertaLayer : nn.Module
{
    private readonly DebertaAttention attention;
    private readonly DebertaIntermediate intermediate;
    private readonly DebertaResidualOutput output;

    /// <summary>Builds the layer.</summary>
    public DebertaLayer(DebertaConfig config) : base("layer")
    {
        attention = new DebertaAttention(config);
        intermediate = new DebertaIntermediate(config);
        output = new DebertaResidualOutput(config, config.IntermediateSize);
        HasDropout = config.HiddenDropoutProb > 0 || config.AttentionProbsDropoutProb > 0;
        RegisterComponents();
    }

    /// <summary>Whether any dropout of this layer has a nonzero probability (it then draws random numbers in training).</summary>
    internal bool HasDropout { get; }

    /// <summary>The attention block.</summary>
    public DebertaAttention Attention => attention;

    /// <summary>
    /// Layer output [B, Lq, H]. <paramref name="queryStates"/> (the Enhanced Mask Decoder's query) replaces the
    /// query and the attention residual; keys and values always come from <paramref name="hidden"/>.
    /// </summary>
    public (Tensor Output, Tensor? Probabilities) Forward(Tensor hidden, AttentionContext context,
        Tensor? queryStates = null, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        var (attended, probs) = attention.Forward(hidden, context, queryStates, outputAttentions);
        var expanded = intermediate.Forward(attended);
        ForwardProfile.Mark("feed-forward intermediate dense + gelu");
        var result = output.Forward(expanded, attended).MoveToOuterDisposeScope();
        ForwardProfile.Mark("feed-forward output dense + LayerNorm");
        probs?.MoveToOuterDisposeScope();
        return (result, probs);
    }
}

/// <summary>
/// DeBERTa-v2's convolution beside layer 0: conv1d over the encoder INPUT, zeroed at padding, activation,
/// added to layer 0's output, LayerNorm, times the mask. HF keys: <c>encoder.conv.*</c>.
/// </summary>
public sealed class ConvLayer : nn.Module
{
    private readonly Conv1d conv;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly string _activation;

    /// <summary>Builds the convolution of kernel <c>conv_kernel_size</c>, <c>conv_groups</c> groups.</summary>
    public ConvLayer(DebertaConfig config) : base("conv")
    {
        int k = config.ConvKernelSize;
        conv = nn.Conv1d(config.HiddenSize, config.HiddenSize, k, padding: (k - 1) / 2, groups: config.ConvGroups);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        _activation = config.ConvAct;
        RegisterComponents();
    }

    /// <summary>Combines the encoder input <paramref name="hidden"/> with layer 0's output <paramref name="residual"/>; <paramref name="inputMask"/> [B, L].</summary>
    public Tensor Forward(Tensor hidden, Tensor residual, Tensor inputMask)
    {
        using var scope = NewDisposeScope();
        var outputs = conv.forward(hidden.permute(0, 2, 1)).permute(0, 2, 1);        // [B, L, H]
        var padded = inputMask.eq(0).unsqueeze(-1);                                  // [B, L, 1]
        outputs = outputs.masked_fill(padded, 0);
        outputs = Activations.Apply(_activation, dropout.forward(outputs));
        var normed = LayerNorm.forward(residual + outputs);
        return (normed * inputMask.unsqueeze(-1).to(normed.dtype)).MoveToOuterDisposeScope();
    }
}
