using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>One opened checkpoint file (safetensors or PyTorch zip), as <see cref="CheckpointReader"/> uses it.</summary>
internal interface ITensorFile : IDisposable
{
    /// <summary>The full path of the file.</summary>
    string Path { get; }

    /// <summary>The tensors in file order.</summary>
    IReadOnlyList<TensorEntry> Entries { get; }

    /// <summary>The entry of <paramref name="name"/>, or null.</summary>
    TensorEntry? Find(string name);

    /// <summary>A new CPU tensor of the file's dtype holding the tensor's data.</summary>
    torch.Tensor Read(string name);

    /// <summary>
    /// Copies the data straight into <paramref name="destination"/> when it is a CPU, contiguous tensor of the
    /// entry's dtype and shape and the format allows it; returns false (and does nothing) otherwise.
    /// </summary>
    bool TryReadInto(string name, torch.Tensor destination);

    /// <summary>
    /// Copies the data into a contiguous <paramref name="destination"/> of the entry's shape but another dtype or
    /// device, converting a bounded chunk at a time (no full-size copy of the tensor in the file's dtype); returns
    /// false (and does nothing) when the format or destination does not allow it.
    /// </summary>
    bool TryConvertInto(string name, torch.Tensor destination) => false;
}
