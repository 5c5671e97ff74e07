using System.Runtime.InteropServices;
using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// <see cref="NativeHeap"/>: the environment variable's values, and on glibc what the policy does to a 12 MiB tensor
/// (the size of one [12, 512, 512] float32 score tensor), read back through glibc's own <c>mallinfo2</c>.
/// </summary>
public class NativeHeapTests
{
    private const long TwelveMiB = 12L * 1024 * 1024;

    [Theory]
    [InlineData(null, NativeHeapPolicy.Retain)]
    [InlineData("", NativeHeapPolicy.Retain)]
    [InlineData("retain", NativeHeapPolicy.Retain)]
    [InlineData(" Retain ", NativeHeapPolicy.Retain)]
    [InlineData("SYSTEM", NativeHeapPolicy.System)]
    public void Environment_values_name_a_policy(string? value, NativeHeapPolicy expected) =>
        Assert.Equal(expected, NativeHeap.Parse(value));

    [Fact]
    public void An_unknown_environment_value_is_an_error_naming_the_variable_and_the_value()
    {
        var error = Assert.Throws<DebertaSharpException>(() => NativeHeap.Parse("jemalloc"));
        Assert.Contains(NativeHeap.EnvironmentVariable, error.Message);
        Assert.Contains("'jemalloc'", error.Message);
    }

    [Fact]
    public void Building_a_model_applies_retain_by_default()
    {
        using var model = new DebertaModel(FastAttentionTests.Config("""{"model_type":"deberta-v2"}""", "heap"));
        if (!NativeHeap.IsSupported) return;
        Assert.Equal(NativeHeapPolicy.Retain, NativeHeap.Policy);
        Assert.StartsWith("Retain (glibc ", NativeHeap.Describe());
    }

    [Fact]
    public void Retain_serves_a_large_tensor_from_the_heap_and_keeps_it_after_free_system_maps_it()
    {
        if (!NativeHeap.IsSupported) return;   // only glibc has these thresholds
        var before = NativeHeap.Policy;
        try
        {
            Assert.True(NativeHeap.Apply(NativeHeapPolicy.Retain));
            long mapped = (long)MallInfo2().hblkhd;
            using (var scores = zeros(3 * 1024 * 1024))               // 12 MiB of float32
            {
                Assert.True((long)MallInfo2().hblkhd - mapped < TwelveMiB, "under Retain a 12 MiB tensor was mapped on its own");
            }
            Assert.True((long)MallInfo2().fordblks >= TwelveMiB, "under Retain the freed 12 MiB left the heap");

            NativeHeap.Apply(NativeHeapPolicy.System);               // fixed 128 KiB thresholds after Retain
            mapped = (long)MallInfo2().hblkhd;
            using (var scores = zeros(3 * 1024 * 1024 + 4096))       // larger than any free heap block left above
            {
                Assert.True((long)MallInfo2().hblkhd - mapped >= TwelveMiB, "under System a 12 MiB tensor came from the heap");
            }
            Assert.True((long)MallInfo2().hblkhd - mapped < TwelveMiB, "under System the freed tensor stayed mapped");
        }
        finally
        {
            NativeHeap.Apply(before);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();
}
