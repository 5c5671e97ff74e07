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
/// Every other parameter of a frozen model is marked too, with the generation of its <see cref="Freeze"/>, so that
/// <see cref="InferenceCache"/> can skip its fingerprints while its sources stay frozen.
/// </summary>
/// <remarks>
/// Process-wide, like <see cref="DenseKernels"/>' measured choices. An entry lives as long as its parameter (a
/// <see cref="ConditionalWeakTable{TKey, TValue}"/>); <see cref="Thaw"/> disposes a model's entries at once. Values
/// are copies: a weight changed in place while frozen is not seen, which is why everything in this library that
/// writes weights (loading, LoRA, training mode) thaws the model first.
/// </remarks>
internal static class FrozenWeights
{
    // Packed is null for parameters that are frozen but not dense weights (their generation is what counts).
    private sealed record Entry(IntPtr Handle, Tensor? Packed, long Generation);

    private static readonly ConditionalWeakTable<Tensor, Entry> Packed = new();
    private static long _generation;

    /// <summary>
    /// Marks every parameter of <paramref name="model"/> frozen under a new generation and packs the weight of every
    /// plain float32 CPU <see cref="Linear"/> (where oneDNN is used); returns how many weights were packed.
    /// </summary>
    public static int Freeze(nn.Module model)
    {
        Thaw(model);
        long generation = Interlocked.Increment(ref _generation);
        var dense = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (_, module) in model.named_modules())
            if (OneDnnOps.IsAvailable && module is Linear { weight: { } weight } && weight.dtype == ScalarType.Float32
                && weight.device_type == DeviceType.CPU && weight.dim() == 2)
                dense.Add(weight);
        int count = 0;
        using var _ = no_grad();
        foreach (var parameter in model.parameters())
        {
            Tensor? packed = null;
            if (dense.Contains(parameter))
            {
                packed = OneDnnOps.Pack(parameter.contiguous());
                packed.DetachFromDisposeScope();
                count++;
            }
            Packed.AddOrUpdate(parameter, new Entry(parameter.Handle, packed, generation));
        }
        return count;
    }

    /// <summary>
    /// The freeze generation shared by every non-null tensor of <paramref name="sources"/> (each frozen, still holding
    /// the tensor it held then, all by the same <see cref="Freeze"/>); <c>null</c> otherwise or without sources.
    /// <see cref="InferenceCache"/> trusts what it built from such sources for as long as the generation lasts.
    /// </summary>
    public static long? Generation(IEnumerable<Tensor?> sources)
    {
        long? generation = null;
        foreach (var source in sources)
        {
            if (source is null) continue;
            if (!Packed.TryGetValue(source, out var entry) || entry.Handle != source.Handle) return null;
            if (generation is { } g && g != entry.Generation) return null;
            generation = entry.Generation;
        }
        return generation;
    }

    /// <summary>Drops (and disposes) the packed copies of <paramref name="model"/>'s parameters.</summary>
    public static void Thaw(nn.Module model)
    {
        foreach (var parameter in model.parameters())
        {
            if (Packed.TryGetValue(parameter, out var entry))
            {
                Packed.Remove(parameter);
                entry.Packed?.Dispose();
            }
        }
    }

    /// <summary>The packed copy of <paramref name="weight"/>, if its model is frozen and the parameter still holds the tensor packed.</summary>
    public static Tensor? Of(Tensor weight) =>
        Packed.TryGetValue(weight, out var entry) && entry.Handle == weight.Handle && entry.Packed is { IsInvalid: false } ? entry.Packed : null;
}
