using TorchSharp;

namespace DebertaSharp.Checkpoints;

/// <summary>
/// Moves raw bytes between files and the storage of CPU tensors without a managed staging buffer.
/// TorchSharp's <c>Tensor.bytes</c> is a span over the tensor's own native memory but is limited to
/// <see cref="int.MaxValue"/> bytes, so larger tensors are visited through 1-D views of at most 1 GiB.
/// </summary>
internal static class TensorMemory
{
    private const long ChunkBytes = 1L << 30; // well under the int.MaxValue limit of a Span

    /// <summary>Receives one chunk of a tensor's bytes and its byte offset within the tensor.</summary>
    internal delegate void ChunkAction(Span<byte> chunk, long offset);

    /// <summary>Visits the bytes of a CPU, contiguous tensor in order, in chunks of at most <paramref name="chunkBytes"/> (1 GiB).</summary>
    internal static void ForEachChunk(torch.Tensor tensor, ChunkAction action, long chunkBytes = ChunkBytes)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Checkpoint files are little-endian; big-endian hosts are not supported.");
        }
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
        {
            throw new InvalidOperationException("Internal error: raw byte access needs a CPU, contiguous tensor.");
        }
        long elementSize = tensor.element_size();
        long total = checked(tensor.numel() * elementSize);
        if (total == 0)
        {
            return;
        }
        if (total <= chunkBytes)
        {
            action(tensor.bytes, 0);
            return;
        }
        long perChunk = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.view(-1);
        long numel = flat.shape[0];
        for (long start = 0; start < numel; start += perChunk)
        {
            long count = Math.Min(perChunk, numel - start);
            using var part = flat.narrow(0, start, count);
            action(part.bytes, start * elementSize);
        }
    }

    /// <summary>Copies <paramref name="length"/> bytes at <paramref name="source"/> into the tensor's storage.</summary>
    internal static unsafe void CopyFrom(torch.Tensor destination, byte* source, long length)
    {
        long expected = checked(destination.numel() * destination.element_size());
        if (expected != length)
        {
            throw new InvalidOperationException($"Internal error: copying {length} bytes into a tensor of {expected} bytes.");
        }
        var start = (IntPtr)source;
        ForEachChunk(destination, (chunk, offset) => new ReadOnlySpan<byte>((byte*)start + offset, chunk.Length).CopyTo(chunk));
    }

    /// <summary>Fills the tensor's storage from a stream; throws <see cref="EndOfStreamException"/> if the stream is short.</summary>
    internal static void ReadFrom(torch.Tensor destination, Stream source)
    {
        ForEachChunk(destination, (chunk, _) => source.ReadExactly(chunk));
    }

    /// <summary>
    /// Fills the tensor's storage from <paramref name="file"/> at <paramref name="offset"/> with positional reads: the
    /// bytes go from the page cache straight into the tensor, nothing of the file becomes resident in this process.
    /// Throws <see cref="EndOfStreamException"/> if the file is short.
    /// </summary>
    internal static void ReadFrom(torch.Tensor destination, Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset)
    {
        ForEachChunk(destination, (chunk, chunkOffset) =>
        {
            long position = offset + chunkOffset;
            while (!chunk.IsEmpty)
            {
                int read = RandomAccess.Read(file, chunk, position);
                if (read <= 0) throw new EndOfStreamException($"The file ended at byte {position} while {chunk.Length} more bytes were expected.");
                chunk = chunk[read..];
                position += read;
            }
        });
    }

    /// <summary>Writes the bytes of a CPU, contiguous tensor to a stream.</summary>
    internal static void WriteTo(torch.Tensor source, Stream destination)
    {
        ForEachChunk(source, (chunk, _) => destination.Write(chunk));
    }

    /// <summary>
    /// Disposes <paramref name="result"/> unless it is the very object <paramref name="original"/>: some TorchSharp
    /// operations (<c>contiguous</c>, <c>to</c>, <c>copy_</c>) may hand back their receiver.
    /// </summary>
    internal static void DisposeIfNew(torch.Tensor result, torch.Tensor original)
    {
        if (!ReferenceEquals(result, original))
        {
            result.Dispose();
        }
    }
}
