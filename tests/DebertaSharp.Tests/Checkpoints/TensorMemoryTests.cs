using DebertaSharp.Checkpoints;
using TorchSharp;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Checkpoints;

public class TensorMemoryTests
{
    [Fact]
    public void ChunkedCopyCoversEveryByteInOrder()
    {
        // The 1 GiB chunking of large tensors, exercised with 64-byte chunks.
        var source = Enumerable.Range(0, 1003).Select(i => (float)i).ToArray();
        using var dest = torch.empty(1003);
        var offsets = new List<long>();
        TensorMemory.ForEachChunk(dest, (chunk, offset) =>
        {
            offsets.Add(offset);
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(source.AsSpan()).Slice((int)offset, chunk.Length).CopyTo(chunk);
        }, chunkBytes: 64);
        Assert.Equal(Enumerable.Range(0, (1003 * 4 + 63) / 64).Select(i => i * 64L), offsets);
        Assert.Equal(source, dest.data<float>().ToArray());
    }

    [Fact]
    public void ReadingCopiesStraightIntoTensorMemory()
    {
        // 16 MB of tensor data is read with (almost) no managed allocation: no staging buffer, no second copy.
        using var temp = new TempFolder();
        using var big = torch.randn(2048, 2048);
        SafetensorsWriter.Save(temp.File("model.safetensors"), [new("w", big)]);
        var record = Bytes(big);
        var pickle = new PickleBuilder().Op('}').Str("w").Tensor("FloatStorage", "0", 2048 * 2048, 0, [2048, 2048], [2048, 1]).Op('s').Op('.').Build();
        WriteTorchZip(temp.File("pytorch_model.bin"), "archive", pickle, new Dictionary<string, byte[]> { ["0"] = record });

        foreach (var name in new[] { "model.safetensors", "pytorch_model.bin" })
        {
            using var reader = CheckpointReader.Open(temp.File(name));
            using var dest = torch.zeros(2048, 2048);
            reader.CopyInto("w", dest); // warm up JIT and zip structures
            long before = GC.GetAllocatedBytesForCurrentThread();
            using (var t = reader.Read("w"))
            {
                reader.CopyInto("w", dest);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated < 1 << 20, $"{name}: {allocated} managed bytes allocated while reading 16 MB");
                Assert.True(Identical(big, t));
            }
            Assert.True(Identical(big, dest));
        }
    }
}
