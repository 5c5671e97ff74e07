using System.Runtime.Intrinsics.X86;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// The managed attention products against libtorch's <c>bmm</c>: every edge of the register block (rows past a
/// multiple of 8 or 6, columns past a panel, odd K), the shared-head operand, accumulation into a bias, both vector
/// widths the CPU runs, on one and two threads; and the task runner both ways.
/// </summary>
public class AttentionProductsTests
{
    private static void AssertClose(Tensor expected, Tensor actual) => Parity.AssertClose(actual, expected);

    public static TheoryData<int, int> WidthsAndThreads()
    {
        var data = new TheoryData<int, int>();
        foreach (int lanes in Avx512F.IsSupported ? new[] { 16, 8 } : Avx2.IsSupported ? new[] { 8 } : [])
            foreach (int threads in new[] { 1, 2 })
                data.Add(lanes, threads);
        return data;
    }

    private static void With(int lanes, int threads, Action action)
    {
        int previousLanes = AttentionProducts.Lanes, previousThreads = get_num_threads();
        AttentionProducts.Lanes = lanes;
        set_num_threads(threads);
        try { action(); }
        finally
        {
            AttentionProducts.Lanes = previousLanes;
            set_num_threads(previousThreads);
        }
    }

    [Theory]
    [MemberData(nameof(WidthsAndThreads))]
    public void TimesTransposedMatchesBmmAtEveryEdge(int lanes, int threads)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var generator = new Generator(21);
        With(lanes, threads, () =>
        {
            foreach (var (g, gb, m, n, k) in new[] { (3L, 3L, 8L, 32L, 64L), (2L, 2L, 13L, 45L, 64L), (6L, 3L, 70L, 130L, 7L),
                                                     (4L, 1L, 1L, 1L, 1L), (2L, 2L, 129L, 17L, 33L) })
            {
                var a = randn([g, m, k], generator: generator);
                var b = randn([gb, n, k], generator: generator);
                var expected = a.view(g / gb, gb, m, k).matmul(b.transpose(1, 2)).view(g, m, n);
                Assert.True(AttentionProducts.Applies(a, b));
                AssertClose(expected, AttentionProducts.TimesTransposed(a, b));
                var bias = randn([g, m, n], generator: generator);
                var summed = bias.clone();
                var result = AttentionProducts.TimesTransposed(a, b, summed);
                AssertClose(expected + bias, result);
                AssertClose(expected + bias, summed);                                      // written in place
                var packed = AttentionProducts.PackTransposed(b);                          // packed once, as the query chunks share it
                Assert.True(AttentionProducts.TimesTransposed(a, b).equal(AttentionProducts.TimesTransposed(a, packed, n, null)).all().item<bool>());
                var again = bias.clone();
                AttentionProducts.TimesTransposed(a, packed, n, again);
                Assert.True(again.equal(summed).all().item<bool>());
            }
        });
    }

    [Theory]
    [MemberData(nameof(WidthsAndThreads))]
    public void TimesMatchesBmmAtEveryEdge(int lanes, int threads)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var generator = new Generator(22);
        With(lanes, threads, () =>
        {
            foreach (var (g, m, k, n) in new[] { (3L, 16L, 40L, 64L), (2L, 13L, 45L, 33L), (5L, 70L, 130L, 7L), (1L, 1L, 1L, 1L) })
            {
                var a = randn([g, m, k], generator: generator);
                var b = randn([g, k, n], generator: generator);
                AssertClose(a.bmm(b), AttentionProducts.Times(a, b));
                Assert.True(AttentionProducts.Times(a, b).equal(AttentionProducts.Times(a, AttentionProducts.PackColumns(b), n)).all().item<bool>());
            }
        });
    }

    [Fact]
    public void OnlyContiguousFloat32CpuInferenceOperandsApply()
    {
        using var scope = NewDisposeScope();
        var a = randn(2, 4, 8);
        var b = randn(2, 5, 8);
        Assert.False(AttentionProducts.Applies(a, b));                                       // autograd on
        using var _ = inference_mode();
        Assert.True(AttentionProducts.Applies(a, b, null));
        Assert.False(AttentionProducts.Applies(a.transpose(1, 2), b));
        Assert.False(AttentionProducts.Applies(a.to(ScalarType.Float64), b));
        Assert.False(AttentionProducts.Applies(a.view(8, 8), b));
        Assert.False(AttentionProducts.Applies(zeros(0, 4, 8), b));
    }

    [Fact]
    public void MismatchedShapesAreRefusedByName()
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var e = Assert.Throws<DebertaInputException>(() => AttentionProducts.TimesTransposed(randn(3, 4, 8), randn(2, 5, 8)));
        Assert.Contains("[3, 4, 8]", e.Message);
        Assert.Throws<DebertaInputException>(() => AttentionProducts.Times(randn(2, 4, 8), randn(2, 7, 8)));
        Assert.Throws<DebertaInputException>(() => AttentionProducts.TimesTransposed(randn(2, 4, 8), randn(2, 5, 8), zeros(2, 4, 4)));
        // A packed operand used for another column count or inner size than it was packed with.
        var packed = AttentionProducts.PackTransposed(randn(2, 5, 8));
        e = Assert.Throws<DebertaInputException>(() => AttentionProducts.TimesTransposed(randn(2, 4, 8), packed, 5 + 2 * AttentionProducts.Lanes, null));
        Assert.Contains("packed", e.Message);
        Assert.Throws<DebertaInputException>(() => AttentionProducts.TimesTransposed(randn(2, 4, 9), packed, 5, null));
        Assert.Throws<DebertaInputException>(() => AttentionProducts.Times(randn(3, 4, 8), AttentionProducts.PackColumns(randn(2, 8, 5)), 5));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TasksRunOnceEachAndTheFirstFailureIsRethrown(bool team)
    {
        bool previous = KernelTasks.UseOpenMpTeam;
        int previousThreads = get_num_threads();
        KernelTasks.UseOpenMpTeam = team;
        set_num_threads(2);
        try
        {
            if (OperatingSystem.IsLinux() && team) Assert.True(KernelTasks.OnOpenMpTeam);   // libtorch's Linux builds ship libgomp
            var counts = new int[1000];
            KernelTasks.Run(counts.Length, t => Interlocked.Increment(ref counts[t]));
            Assert.All(counts, c => Assert.Equal(1, c));
            var e = Assert.Throws<InvalidOperationException>(() =>
                KernelTasks.Run(100, t => { if (t == 37) throw new InvalidOperationException("task 37"); }));
            Assert.Equal("task 37", e.Message);
            KernelTasks.Run(10, t => Interlocked.Increment(ref counts[t]));                  // the team still works afterwards
            Assert.Equal(2, counts[9]);
        }
        finally
        {
            KernelTasks.UseOpenMpTeam = previous;
            set_num_threads(previousThreads);
        }
    }
}
