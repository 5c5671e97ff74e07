using System.Runtime.InteropServices;

namespace DebertaSharp.Modeling;

/// <summary>How the C heap (glibc's <c>malloc</c>, which libtorch's CPU allocator uses) treats freed tensor memory.</summary>
public enum NativeHeapPolicy
{
    /// <summary>
    /// glibc's own thresholds (128 KiB): blocks above the mmap threshold are mapped per allocation and unmapped when
    /// freed, and free memory at the top of the heap is returned to the system, so every new activation tensor of a
    /// forward pass is fresh memory the kernel must fault in and zero page by page.
    /// </summary>
    System,

    /// <summary>
    /// Blocks up to 32 MiB come from the heap and freed memory stays there for the next allocation
    /// (<c>M_MMAP_THRESHOLD</c> = 32 MiB, <c>M_TRIM_THRESHOLD</c> = 2 GiB − 1), as a caching allocator would keep it:
    /// repeated forward passes reuse their pages. The process keeps its peak heap size instead of shrinking after it.
    /// </summary>
    Retain,
}

/// <summary>
/// The process's C-heap policy for tensor memory (<see cref="NativeHeapPolicy"/>), opt-in. libtorch allocates every
/// CPU tensor with <c>malloc</c>; with glibc's defaults, memory freed at the end of a forward pass is returned to the
/// system, so the next pass faults its first large tensors in again (a [12, 512, 512] float32 score tensor is 3,072
/// pages). Within a 12-layer forward, later layers reuse what earlier ones freed, so this costs a 12-layer
/// deberta-v3-base little (1×512 and 8×128 forwards measured the same under both policies on a 2-vCPU AMD EPYC Zen 4),
/// but a one-layer or very short forward pays it on every pass (the one-layer peer bundle: 1×512 took ~1.4× as long),
/// and <see cref="NativeHeapPolicy.Retain"/> raised a training step's peak resident memory by 4–7 % at no speed gain.
/// <para>
/// Nothing changes unless asked: <see cref="Apply"/>, or the environment variable <see cref="EnvironmentVariable"/>
/// (<c>retain</c> or <c>system</c>), read when the first DebertaSharp model is constructed. Only Linux with glibc has
/// these settings; elsewhere the policy stays <see cref="NativeHeapPolicy.System"/> and <see cref="IsSupported"/> is
/// false. The settings are process-wide: they govern every native allocation of the process, not only DebertaSharp's.
/// </para>
/// </summary>
public static partial class NativeHeap
{
    /// <summary>The environment variable read once, on the first model: <c>retain</c>, or <c>system</c> (the default, also when unset).</summary>
    public const string EnvironmentVariable = "DEBERTASHARP_NATIVE_HEAP";

    /// <summary>The mmap threshold under <see cref="NativeHeapPolicy.Retain"/>: glibc's largest on 64-bit systems.</summary>
    public const int RetainMmapThreshold = 32 * 1024 * 1024;

    /// <summary>The trim threshold under <see cref="NativeHeapPolicy.Retain"/>.</summary>
    public const int RetainTrimThreshold = int.MaxValue;

    /// <summary>glibc's default mmap and trim thresholds, set again by <see cref="NativeHeapPolicy.System"/>.</summary>
    public const int SystemThreshold = 128 * 1024;

    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    private static readonly Lazy<string?> GlibcVersion = new(ReadGlibcVersion);
    private static readonly object Gate = new();
    private static bool _configured;
    private static bool _thresholdsSet;

    /// <summary>True on Linux with glibc, where the policy can be set.</summary>
    public static bool IsSupported => GlibcVersion.Value is not null;

    /// <summary>The policy in effect for this process (<see cref="NativeHeapPolicy.System"/> until one is applied).</summary>
    public static NativeHeapPolicy Policy { get; private set; } = NativeHeapPolicy.System;

    /// <summary>One line for benchmark reports: the policy and the C library, e.g. <c>Retain (glibc 2.36)</c>.</summary>
    public static string Describe() =>
        IsSupported ? $"{Policy} (glibc {GlibcVersion.Value})" : $"{Policy} (not glibc: the C library's defaults)";

    /// <summary>
    /// Sets the policy for the process now (it replaces the default the first model would apply).
    /// <see cref="NativeHeapPolicy.System"/> leaves glibc untouched if no policy set its thresholds before; after
    /// <see cref="NativeHeapPolicy.Retain"/> it sets glibc's default thresholds again, but fixed (glibc's own
    /// adjustment of the mmap threshold after frees stays off once a threshold was set), and memory already retained
    /// stays in the heap until a later free trims it.
    /// </summary>
    /// <param name="policy">The policy.</param>
    /// <returns>True when the policy is in effect; false where it cannot be set (<see cref="IsSupported"/> is false).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="policy"/> is not a defined value.</exception>
    /// <exception cref="DebertaSharpException">glibc refused a threshold (the message names it).</exception>
    public static bool Apply(NativeHeapPolicy policy)
    {
        if (!Enum.IsDefined(policy)) throw new ArgumentOutOfRangeException(nameof(policy), policy, "Unknown native heap policy.");
        lock (Gate)
        {
            _configured = true;
            if (!IsSupported) return false;
            if (policy == NativeHeapPolicy.System && !_thresholdsSet)
            {
                Policy = policy;
                return true;
            }

            _thresholdsSet = true;
            var (mmap, trim) = policy == NativeHeapPolicy.Retain ? (RetainMmapThreshold, RetainTrimThreshold) : (SystemThreshold, SystemThreshold);
            if (MallOpt(MMmapThreshold, mmap) != 1) throw new DebertaSharpException($"glibc refused mallopt(M_MMAP_THRESHOLD, {mmap}).");
            if (MallOpt(MTrimThreshold, trim) != 1) throw new DebertaSharpException($"glibc refused mallopt(M_TRIM_THRESHOLD, {trim}).");
            Policy = policy;
            return true;
        }
    }

    /// <summary>Applies <see cref="EnvironmentVariable"/>'s policy once per process (unless <see cref="Apply"/> came first); later calls do nothing.</summary>
    /// <exception cref="DebertaSharpException">The environment variable holds something other than <c>retain</c> or <c>system</c>.</exception>
    internal static void EnsureConfigured()
    {
        if (Volatile.Read(ref _configured)) return;
        var policy = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));
        lock (Gate)
        {
            if (_configured) return;
            Apply(policy);
        }
    }

    /// <summary>The policy a value of <see cref="EnvironmentVariable"/> names; unset or empty is <see cref="NativeHeapPolicy.System"/>.</summary>
    /// <exception cref="DebertaSharpException">Any other value than <c>retain</c> or <c>system</c> (case-insensitive).</exception>
    internal static NativeHeapPolicy Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "system" => NativeHeapPolicy.System,
        "retain" => NativeHeapPolicy.Retain,
        _ => throw new DebertaSharpException($"{EnvironmentVariable}='{value}' is not a native heap policy: use 'system' (the default) or 'retain'."),
    };

    private static string? ReadGlibcVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return Marshal.PtrToStringUTF8(GnuGetLibcVersion());
        }
        catch (EntryPointNotFoundException)
        {
            return null;   // musl and other C libraries: no gnu_get_libc_version, no glibc thresholds
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static partial IntPtr GnuGetLibcVersion();

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
