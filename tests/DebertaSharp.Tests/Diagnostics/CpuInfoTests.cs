using DebertaSharp.Diagnostics;
using Xunit;

namespace DebertaSharp.Tests.Diagnostics;

/// <summary>The CPU line every benchmark report starts with: model name and the GEMM-relevant ISA flags of this machine.</summary>
public class CpuInfoTests
{
    [Fact]
    public void DescribeNamesTheModelAndOnlyFlagsTheCpuHas()
    {
        var description = CpuInfo.Describe();
        Assert.StartsWith(CpuInfo.ModelName, description);
        Assert.Contains($"{Environment.ProcessorCount} logical CPUs", description);
        if (!File.Exists("/proc/cpuinfo")) return;
        var flagsLine = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal));
        var present = flagsLine.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(CpuInfo.Flags, f => Assert.Contains(f, present));
        Assert.Equal(present.Contains("avx2"), CpuInfo.Flags.Contains("avx2"));
        Assert.Equal(present.Contains("amx_bf16"), CpuInfo.HasAmx);
        Assert.Equal(!CpuInfo.HasAmx && CpuInfo.Flags.Count > 0, description.EndsWith("(no AMX)", StringComparison.Ordinal));
    }
}
