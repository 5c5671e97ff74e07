namespace DebertaSharp.Diagnostics;

/// <summary>
/// The CPU a benchmark ran on, for its report: timings differ from machine to machine (AVX2 vs AVX-512, bf16 and AMX
/// matrix units), so every figure must name the CPU it was taken on.
/// </summary>
public static class CpuInfo
{
    // The instruction-set flags that decide which GEMM kernels libtorch and ONNX Runtime pick.
    private static readonly string[] IsaFlags =
        ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"];

    /// <summary>The model name from <c>/proc/cpuinfo</c> (<c>unknown</c> where it cannot be read).</summary>
    public static string ModelName => CpuInfoLines().FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
        ?.Split(':', 2)[1].Trim() ?? "unknown";

    /// <summary>Which of the GEMM-relevant ISA flags the CPU reports (avx2 … amx_int8), in that order.</summary>
    public static IReadOnlyList<string> Flags
    {
        get
        {
            var line = CpuInfoLines().FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (line is null) return [];
            var present = line.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            return IsaFlags.Where(present.Contains).ToArray();
        }
    }

    /// <summary>Whether the CPU has AMX bf16 tiles (bf16 matmul many times faster than fp32 there).</summary>
    public static bool HasAmx => Flags.Contains("amx_bf16");

    /// <summary>One line: "&lt;model&gt;, N logical CPUs, ISA: avx2 fma avx512f …".</summary>
    public static string Describe()
    {
        var flags = Flags;
        return $"{ModelName}, {Environment.ProcessorCount} logical CPUs, ISA: {(flags.Count == 0 ? "unknown" : string.Join(' ', flags))}"
               + (flags.Count > 0 && !flags.Contains("amx_bf16") ? " (no AMX)" : "");
    }

    /// <summary>The 1-, 5- and 15-minute load averages from <c>/proc/loadavg</c> (<c>n/a</c> elsewhere): how busy the machine was during a timing.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static IEnumerable<string> CpuInfoLines() => File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").Take(64) : [];
}
