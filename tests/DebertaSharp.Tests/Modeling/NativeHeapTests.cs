using System.Diagnostics;
using System.Runtime.InteropServices;
using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// <see cref="NativeHeap"/>: the environment variable's values, and on glibc what the policy does to a 12 MiB tensor
/// (one [12, 512, 512] float32 score tensor), read through glibc's own <c>mallinfo2</c> in a fresh process (in this
/// one, memory other tests freed into the heap decides where a new block comes from).
/// </summary>
public class NativeHeapTests
{
    private const long TwelveMiB = 12L * 1024 * 1024;

    [Theory]
    [InlineData(null, NativeHeapPolicy.System)]
    [InlineData("", NativeHeapPolicy.System)]
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

    [Theory]
    [InlineData("", "policy=System mapped=True kept=False")]
    [InlineData("retain", "policy=Retain mapped=False kept=True")]
    [InlineData("system", "policy=System mapped=True kept=False")]
    public void A_fresh_process_keeps_a_freed_12_MiB_tensor_under_retain_and_maps_it_under_system(string value, string expected)
    {
        if (!NativeHeap.IsSupported) return;   // only glibc has these thresholds
        var start = Robustness.Program.ChildProcess("native-heap");
        start.Environment[NativeHeap.EnvironmentVariable] = value;
        using var child = Process.Start(start)!;
        string output = child.StandardOutput.ReadToEnd(), errors = child.StandardError.ReadToEnd();
        child.WaitForExit();
        Assert.True(child.ExitCode == 0, $"the child failed: {errors}");
        Assert.Equal(expected, output.Trim());
    }

    /// <summary>The child: builds a model (which applies the policy), then allocates, frees and reports a 12 MiB tensor.</summary>
    internal static int Child(TextWriter output)
    {
        using (new DebertaModel(FastAttentionTests.Config("""{"model_type":"deberta-v2"}""", "heap"))) { }
        long mapped = (long)MallInfo2().hblkhd;
        bool mappedAlone;
        using (var scores = zeros(3 * 1024 * 1024))               // 12 MiB of float32
            mappedAlone = (long)MallInfo2().hblkhd - mapped >= TwelveMiB;
        bool kept = (long)MallInfo2().fordblks >= TwelveMiB;
        output.WriteLine($"policy={NativeHeap.Policy} mapped={mappedAlone} kept={kept}");
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();
}
