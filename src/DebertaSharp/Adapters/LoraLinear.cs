using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DebertaSharp.Modeling;

namespace DebertaSharp.Adapters;

/// <summary>
/// A Linear with a LoRA update, standing in for the Linear under the same name: its own parameters are the frozen
/// <c>weight</c> and <c>bias</c> (so base keys stay <c>…query_proj.weight</c>) and the adapter is <c>lora_A</c> /
/// <c>lora_B</c> (keys <c>…query_proj.lora_A.weight</c> [r, in] and <c>…lora_B.weight</c> [out, r], as PEFT names them).
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly Linear lora_A;
    private readonly Linear lora_B;
    private readonly Dropout lora_dropout;

    /// <summary>Wraps the weights of <paramref name="linear"/> (shared, not copied) with a fresh adapter: A Kaiming-uniform, B zero.</summary>
    internal LoraLinear(Linear linear, LoraOptions options) : base("LoraLinear")
    {
        weight = linear.weight!;
        bias = linear.bias;
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        lora_A = nn.Linear(inFeatures, options.Rank, hasBias: false, device: weight.device, dtype: weight.dtype);   // torch's default: Kaiming-uniform(a = √5)
        lora_B = nn.Linear(options.Rank, outFeatures, hasBias: false, device: weight.device, dtype: weight.dtype);
        using (no_grad()) lora_B.weight!.zero_();
        lora_dropout = nn.Dropout(options.Dropout);
        Scaling = options.Scaling;
        RegisterComponents();
    }

    /// <summary>The factor on B·A.</summary>
    public double Scaling { get; }

    /// <summary>The frozen base weight [out, in].</summary>
    public Parameter Weight => weight;

    /// <summary>The frozen base bias [out], if any.</summary>
    public Parameter? Bias => bias;

    /// <summary>A [r, in].</summary>
    public Parameter LoraA => lora_A.weight!;

    /// <summary>B [out, r].</summary>
    public Parameter LoraB => lora_B.weight!;

    /// <summary>scaling · B·A [out, in], the update merging adds to the weight.</summary>
    public Tensor Delta() => LoraB.matmul(LoraA).mul(Scaling);

    /// <summary>Frees the adapter's own tensors (A, B), not the base weights it shares with the Linear it replaced.</summary>
    internal void DisposeAdapter()
    {
        lora_A.Dispose();
        lora_B.Dispose();
    }

    /// <summary>x·Wᵀ + b + scaling · dropout(x)·Aᵀ·Bᵀ; x [..., in] → [..., out].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y = Dense.Linear(x, weight, bias);
        Tensor update = Dense.Forward(lora_B, Dense.Forward(lora_A, lora_dropout.forward(x)));
        return y.add_(update, alpha: Scaling).MoveToOuterDisposeScope();
    }
}
