using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>HF's <c>ACT2FN</c> for the activations DeBERTa configs name.</summary>
public static class Activations
{
    /// <summary>Applies the activation named <paramref name="name"/> (<c>gelu</c> is the exact erf GELU).</summary>
    /// <exception cref="DebertaConfigurationException">Unknown activation.</exception>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" => TanhGelu(x),
        "gelu_fast" => x * 0.5 * (1.0 + (x * 0.7978845608 * (1.0 + 0.044715 * x * x)).tanh()),
        "quick_gelu" => x * (x * 1.702).sigmoid(),
        "relu" => nn.functional.relu(x),
        "silu" or "swish" => nn.functional.silu(x),
        "tanh" => x.tanh(),
        "sigmoid" => x.sigmoid(),
        "linear" => x.alias(),
        _ => throw new DebertaConfigurationException($"Activation '{name}' is not supported."),
    };

    private static Tensor TanhGelu(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = (x + x.pow(3) * 0.044715) * Math.Sqrt(2.0 / Math.PI);
        return (x * 0.5 * (1.0 + inner.tanh())).MoveToOuterDisposeScope();
    }
}
