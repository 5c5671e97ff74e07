using System.Diagnostics;

namespace DebertaSharp.Modeling;

/// <summary>
/// Wall-clock time per stage of forward passes, for the benchmarks' <c>peer --profile</c>: the model's code calls
/// <see cref="Mark"/> at the end of each stage, which charges the time since the previous mark to that stage. Off
/// (one static read per mark) unless a profile is <see cref="Start">started</see>. CPU ops in libtorch are synchronous,
/// so the times are those of the ops themselves; on other devices they are only dispatch times. One profile at a
/// time per process; marks from other threads while it runs are ignored.
/// </summary>
internal sealed class ForwardProfile : IDisposable
{
    private static ForwardProfile? _active;
    private readonly Dictionary<string, (double Milliseconds, long Count)> _stages = new();
    private readonly List<string> _order = new();
    private readonly int _thread = Environment.CurrentManagedThreadId;
    private long _last;

    private ForwardProfile() => _last = Stopwatch.GetTimestamp();

    /// <summary>Starts recording on the calling thread; dispose to stop.</summary>
    /// <exception cref="InvalidOperationException">A profile is already running.</exception>
    public static ForwardProfile Start()
    {
        var profile = new ForwardProfile();
        if (Interlocked.CompareExchange(ref _active, profile, null) is not null)
            throw new InvalidOperationException("A ForwardProfile is already running.");
        return profile;
    }

    /// <summary>Charges the time since the previous mark (or <see cref="Restart"/>) to <paramref name="stage"/>.</summary>
    public static void Mark(string stage)
    {
        var profile = _active;
        if (profile is null || Environment.CurrentManagedThreadId != profile._thread) return;
        long now = Stopwatch.GetTimestamp();
        double ms = Stopwatch.GetElapsedTime(profile._last, now).TotalMilliseconds;
        if (profile._stages.TryGetValue(stage, out var sum)) profile._stages[stage] = (sum.Milliseconds + ms, sum.Count + 1);
        else
        {
            profile._stages[stage] = (ms, 1);
            profile._order.Add(stage);
        }
        profile._last = Stopwatch.GetTimestamp();          // the bookkeeping above is not charged to the next stage
    }

    /// <summary>Starts the clock of the next stage now (before a forward pass: time between passes is not charged).</summary>
    public void Restart() => _last = Stopwatch.GetTimestamp();

    /// <summary>Drops what was recorded (after a warm-up pass).</summary>
    public void Reset()
    {
        _stages.Clear();
        _order.Clear();
        Restart();
    }

    /// <summary>Stages in the order they were first marked: total milliseconds and number of marks.</summary>
    public IReadOnlyList<(string Stage, double Milliseconds, long Count)> Stages =>
        _order.Select(s => (s, _stages[s].Milliseconds, _stages[s].Count)).ToList();

    /// <summary>Stops recording.</summary>
    public void Dispose() => Interlocked.CompareExchange(ref _active, null, this);
}
