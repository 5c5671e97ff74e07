using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Runs a managed kernel's independent tasks on torch's intra-op thread count, and addresses its tensors (one place
/// for every kernel).
/// </summary>
/// <remarks>
/// Where libtorch's OpenMP runtime is GNU libgomp (the Linux builds), the tasks run on libgomp's own team, the threads
/// libtorch's ops run on, through <c>GOMP_parallel</c>. Between ops those threads busy-wait for the next parallel
/// region, so .NET pool threads started beside them competed with them for the cores: on two cores a managed kernel
/// ran no faster on two threads than on one (c2p scores of one v3-base layer at 1×512 on a Zen 5: 2.8 ms on one
/// thread, 2.8 on two through the pool, 1.4 with libgomp's workers asleep). On the team, the waiting workers take the
/// tasks at once. Elsewhere (another OpenMP runtime, or none found) the tasks go to <see cref="Parallel.For(long, long, ParallelOptions, Action{long})"/>.
/// Tasks are handed out one at a time from a shared counter, so a thread that is descheduled delays only its task.
/// </remarks>
internal static unsafe class KernelTasks
{
    private sealed class Work(long tasks, Action<long> body)
    {
        public readonly long Tasks = tasks;
        public readonly Action<long> Body = body;
        public long Next = -1;
        public ExceptionDispatchInfo? Failure;
    }

    private static readonly Lazy<(nint Parallel, bool Found)> Gomp = new(FindGomp, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether tasks run on libgomp's team in this process (tests).</summary>
    internal static bool OnOpenMpTeam => Gomp.Value.Found && UseOpenMpTeam;

    /// <summary>Off in tests that compare the two ways of running tasks.</summary>
    internal static bool UseOpenMpTeam { get; set; } = true;

    /// <summary>
    /// Runs <paramref name="body"/> once for each task 0 … <paramref name="tasks"/> − 1: in order on the calling thread
    /// when torch has one thread or there is one task, otherwise across min(torch's threads, processors) threads. The
    /// first exception a task throws is rethrown here once every thread has stopped.
    /// </summary>
    public static void Run(long tasks, Action<long> body)
    {
        int threads = (int)Math.Min(Math.Max(1, Math.Min(get_num_threads(), Environment.ProcessorCount)), Math.Max(1, tasks));
        if (threads == 1)
        {
            for (long t = 0; t < tasks; t++) body(t);
            return;
        }
        if (!OnOpenMpTeam)
        {
            try
            {
                Parallel.For(0L, tasks, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);                 // as on one thread: the task's own exception
            }
            return;
        }
        var work = new Work(tasks, body);
        var handle = GCHandle.Alloc(work);
        try
        {
            var parallel = (delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void>)Gomp.Value.Parallel;
            parallel(&TeamMember, GCHandle.ToIntPtr(handle), (uint)threads, 0);
        }
        finally
        {
            handle.Free();
        }
        work.Failure?.Throw();
    }

    /// <summary>
    /// The address of contiguous <paramref name="t"/>'s first element (0 for <c>null</c>), for the kernels' pointers:
    /// native memory, valid while <paramref name="t"/> lives.
    /// </summary>
    public static nint Address(Tensor? t)
    {
        if (t is null) return 0;
        fixed (byte* p = t.bytes) return (nint)p;
    }

    // Every member of the team, the calling thread included, takes tasks until none is left.
    [UnmanagedCallersOnly]
    private static void TeamMember(nint state)
    {
        var work = (Work)GCHandle.FromIntPtr(state).Target!;
        try
        {
            for (long t = Interlocked.Increment(ref work.Next); t < work.Tasks && work.Failure is null; t = Interlocked.Increment(ref work.Next))
                work.Body(t);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref work.Failure, ExceptionDispatchInfo.Capture(e), null);
        }
    }

    // libgomp as libtorch loaded it: its path from this process's mappings (the file name carries a build hash).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (nint, bool) FindGomp()
    {
        if (!OperatingSystem.IsLinux()) return (0, false);
        try
        {
            _ = get_num_threads();                                                   // libtorch (and with it libgomp) is loaded
            string? path = File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/') is var at and >= 0 ? line[at..] : null)
                .FirstOrDefault(p => p is not null && Path.GetFileName(p).StartsWith("libgomp", StringComparison.Ordinal));
            if (path is null || !NativeLibrary.TryLoad(path, out var library)) return (0, false);
            return NativeLibrary.TryGetExport(library, "GOMP_parallel", out var parallel) ? (parallel, true) : (0, false);
        }
        catch (IOException)
        {
            return (0, false);
        }
        catch (UnauthorizedAccessException)
        {
            return (0, false);
        }
    }
}
