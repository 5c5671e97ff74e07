using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// The dense weights of models frozen for inference (<see cref="DebertaPreTrainedModel.FreezeForInference"/>), each in
/// oneDNN's blocked layout (<see cref="OneDnnOps.Pack"/>), so that <see cref="DenseKernels"/> does not have oneDNN
/// reorder it on every call. Keyed by the weight parameter itself: a parameter that is replaced (<c>to(dtype)</c>,
/// loading into a new model) has no entry, and an entry whose parameter now holds another native tensor is ignored.
/// </summary>
/// <remarks>
/// Process-wide, like <see cref="DenseKernels"/>' measured choices. An entry lives as long as its parameter (a
/// <see cref="ConditionalWeakTable{TKey, TValue}"/>); <see cref="Thaw"/> disposes a model's entries at once. Values
/// are copies: a weight changed in place while frozen is not seen, which is why everything in this library that
/// writes weights (loading, LoRA, training mode) thaws the model first.
/// </remarks>
internal static class FrozenWeights
{
    private sealed record Entry(IntPtr Handle, Tensor Packed);

    private static readonly ConditionalWeakTable<Tensor, Entry> Packed = new();

    /// <summary>Packs the weight of every plain float32 CPU <see cref="Linear"/> of <paramref name="model"/>; returns how many.</summary>
    public static int Freeze(nn.Module model)
    {
        if (!OneDnnOps.IsAvailable) return 0;
        int count = 0;
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            if (module is not Linear { weight: { } weight } || weight.dtype != ScalarType.Float32
                || weight.device_type != DeviceType.CPU || weight.dim() != 2) continue;
            var packed = OneDnnOps.Pack(weight.contiguous());
            packed.DetachFromDisposeScope();
            if (Packed.TryGetValue(weight, out var old)) old.Packed.Dispose();
            Packed.AddOrUpdate(weight, new Entry(weight.Handle, packed));
            count++;
        }
        return count;
    }

    /// <summary>Drops (and disposes) the packed copies of <paramref name="model"/>'s parameters.</summary>
    public static void Thaw(nn.Module model)
    {
        foreach (var parameter in model.parameters())
        {
            if (Packed.TryGetValue(parameter, out var entry))
            {
                Packed.Remove(parameter);
                entry.Packed.Dispose();
            }
        }
    }

    /// <summary>The packed copy of <paramref name="weight"/>, if its model is frozen and the parameter still holds the tensor packed.</summary>
    public static Tensor? Of(Tensor weight) =>
        Packed.TryGetValue(weight, out var entry) && entry.Handle == weight.Handle && !entry.Packed.IsInvalid ? entry.Packed : null;
}
