namespace DebertaSharp.Diagnostics;

/// <summary>
/// Resident memory of this process from <c>/proc/self/status</c> (Linux): current (<c>VmRSS</c>) and peak
/// (<c>VmHWM</c>). The peak covers the whole process life, so measure each case in a fresh process.
/// </summary>
public static class ProcessMemory
{
    /// <summary>Peak resident bytes so far, or <c>null</c> where <c>/proc/self/status</c> does not exist.</summary>
    public static long? PeakResidentBytes() => Read("VmHWM:");

    /// <summary>Current resident bytes, or <c>null</c> where <c>/proc/self/status</c> does not exist.</summary>
    public static long? ResidentBytes() => Read("VmRSS:");

    /// <summary>
    /// Resets the peak to the current resident size (Linux: writes 5 to <c>/proc/self/clear_refs</c>), so that
    /// <see cref="PeakResidentBytes"/> then covers only what follows. Returns false where that is not possible.
    /// </summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? Read(string field)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
            var parts = line[field.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[1] == "kB" && long.TryParse(parts[0], out long kb)) return kb * 1024;
        }
        return null;
    }
}
