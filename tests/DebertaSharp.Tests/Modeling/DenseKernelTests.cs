using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// The float32 CPU inference kernels of <see cref="Dense.Linear"/>: oneDNN against libtorch's linear, which calls take
/// which path, the measured choice, and no leaked tensors. <see cref="DenseKernels"/> is process-wide; test
/// collections run one at a time (xunit.runner.json) and every test restores the policy.
/// </summary>
public class DenseKernelTests
{
    private static void WithKernel(DenseKernel kernel, Action action)
    {
        var previous = DenseKernels.Kernel;
        DenseKernels.Kernel = kernel;
        try { action(); }
        finally { DenseKernels.Kernel = previous; }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static void AssertClose(Tensor expected, Tensor actual) => Parity.AssertClose(actual, expected);

    [Theory]
    [InlineData(new long[] { 5, 768 }, 768L, true)]
    [InlineData(new long[] { 2, 7, 48 }, 33L, true)]       // 3-D input
    [InlineData(new long[] { 2, 3, 4, 16 }, 8L, false)]     // 4-D, no bias
    [InlineData(new long[] { 16 }, 8L, true)]               // 1-D input
    [InlineData(new long[] { 1, 64 }, 2L, false)]
    public void OneDnnMatchesTorchLinear(long[] inputShape, long outFeatures, bool withBias)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var generator = new Generator(11);
        var x = randn(inputShape, generator: generator);
        var w = randn([outFeatures, inputShape[^1]], generator: generator);
        var b = withBias ? randn([outFeatures], generator: generator) : null;
        AssertClose(nn.functional.linear(x, w, b), DenseKernels.OneDnn(x, w, b));
        WithKernel(DenseKernel.OneDnn, () => AssertClose(nn.functional.linear(x, w, b), Dense.Linear(x, w, b)));
    }

    [Theory]
    [InlineData(DenseKernel.Torch)]
    [InlineData(DenseKernel.OneDnn)]
    [InlineData(DenseKernel.Auto)]
    public void GeluAfterTheProductMatchesTheSeparateActivationWithEveryKernel(DenseKernel kernel)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var generator = new Generator(17);
        var layer = nn.Linear(48, 96);
        var x = randn([2, 30, 48], generator: generator) * 3;                     // wide enough to reach both tails of gelu
        var expected = nn.functional.gelu(nn.functional.linear(x, layer.weight!, layer.bias));
        WithKernel(kernel, () =>
        {
            DenseKernels.ResetChoices();
            try
            {
                AssertClose(expected, Dense.Forward(layer, x, "gelu"));
                AssertClose(nn.functional.relu(nn.functional.linear(x, layer.weight!, layer.bias)), Dense.Forward(layer, x, "relu"));
                if (kernel == DenseKernel.Auto)                                     // the fused product is measured as its own shape
                    Assert.Equal([false, true], DenseKernels.Choices.Select(c => c.Gelu).Order());
            }
            finally
            {
                DenseKernels.ResetChoices();
            }
        });
    }

    [Fact]
    public void OneDnnTakesNonContiguousInputAndWeight()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator(12);
        var x = randn([3, 40, 6], generator: generator).transpose(1, 2);   // [3, 6, 40], non-contiguous
        var w = randn([40, 24], generator: generator).t();                   // [24, 40], non-contiguous
        var b = randn([24], generator: generator);
        Assert.False(x.is_contiguous());
        Assert.False(w.is_contiguous());
        AssertClose(nn.functional.linear(x, w, b), DenseKernels.OneDnn(x, w, b));
    }

    [Fact]
    public void OnlyFloat32CpuInferenceTakesTheKernelPath()
    {
        using var scope = NewDisposeScope();
        var x = randn(4, 8);
        var w = randn(3, 8);
        var b = randn(3);
        WithKernel(DenseKernel.OneDnn, () =>
        {
            Assert.False(DenseKernels.Applies(x, w, b));                          // autograd on
            using (no_grad()) Assert.True(DenseKernels.Applies(x, w, b));
            using (inference_mode()) Assert.True(DenseKernels.Applies(x, w, null));
            using (no_grad())
            {
                Assert.False(DenseKernels.Applies(x.to(ScalarType.Float64), w.to(ScalarType.Float64), null));
                Assert.False(DenseKernels.Applies(x.to(ScalarType.BFloat16), w.to(ScalarType.BFloat16), null));
                Assert.False(DenseKernels.Applies(zeros(0, 8), w, b));
            }
        });
        WithKernel(DenseKernel.Torch, () =>
        {
            using (no_grad()) Assert.False(DenseKernels.Applies(x, w, b));
        });
    }

    [Fact]
    public void TrainingGradientsFlowWithOneDnnForced()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(13);
        var x = randn([2, 5, 8], generator: generator).requires_grad_(true);
        var w = randn([6, 8], generator: generator).requires_grad_(true);
        var b = randn([6], generator: generator).requires_grad_(true);
        var gradients = new List<Tensor>();
        foreach (var kernel in new[] { DenseKernel.Torch, DenseKernel.OneDnn })
        {
            WithKernel(kernel, () =>
            {
                foreach (var t in new[] { x, w, b }) t.grad?.zero_();
                var y = Dense.Linear(x, w, b);
                Assert.True(y.requires_grad);
                (y * y).sum().backward();
                gradients.AddRange(new[] { x, w, b }.Select(t => t.grad!.clone()));
            });
        }
        for (int i = 0; i < 3; i++) Assert.True(Same(gradients[i], gradients[i + 3]), $"gradient {i} differs with oneDNN forced");
    }

    [Fact]
    public void AutoMeasuresEachShapeOnceAndRepeatsItsFirstOutput()
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var generator = new Generator(14);
        var x = randn([3, 50, 96], generator: generator);      // 150 rows → bucket 256
        var w = randn([80, 96], generator: generator);
        var b = randn([80], generator: generator);
        int threads = get_num_threads();
        WithKernel(DenseKernel.Auto, () =>
        {
            DenseKernels.ResetChoices();
            try
            {
                Assert.Empty(DenseKernels.Choices);
                var first = Dense.Linear(x, w, b);                                  // measures
                AssertClose(nn.functional.linear(x, w, b), first);
                var choice = Assert.Single(DenseKernels.Choices);
                Assert.Equal((256L, 96L, 80L, true, false, threads), (choice.RowBucket, choice.InFeatures, choice.OutFeatures, choice.HasBias, choice.Gelu, choice.Threads));
                Assert.True(choice.TorchMilliseconds > 0 && choice.OneDnnMilliseconds > 0);
                Assert.Equal(choice.OneDnnMilliseconds < choice.TorchMilliseconds ? DenseKernel.OneDnn : DenseKernel.Torch, choice.Kernel);
                var chosenResult = choice.Kernel == DenseKernel.OneDnn ? DenseKernels.OneDnn(x, w, b) : nn.functional.linear(x, w, b);
                Assert.True(Same(chosenResult, first));                             // the first call's output is the chosen kernel's
                for (int i = 0; i < 3; i++) Assert.True(Same(first, Dense.Linear(x, w, b)));   // and every later one repeats it bit for bit
                AssertClose(nn.functional.linear(x[.., ..45], w, b), Dense.Linear(x[.., ..45], w, b));   // 135 rows: the same bucket, no new measurement
                Assert.Single(DenseKernels.Choices);
                Assert.Contains("256×96→80", DenseKernels.Describe());
            }
            finally
            {
                DenseKernels.ResetChoices();
            }
        });
    }

    [Theory]
    [InlineData(DenseKernel.Torch)]
    [InlineData(DenseKernel.OneDnn)]
    public void AutoRunsTheChosenKernel(DenseKernel chosen)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var generator = new Generator(15);
        var x = randn([4, 100, 256], generator: generator);
        var w = randn([192, 256], generator: generator);
        var b = randn([192], generator: generator);
        var torchResult = nn.functional.linear(x, w, b);
        var oneDnnResult = DenseKernels.OneDnn(x, w, b);
        // The oneDNN call count tells the kernels apart (on some CPUs, e.g. a Xeon family 6 model 207, they round this
        // product identically, so equal outputs alone would not); the outputs must then be that kernel's bit for bit.
        WithKernel(DenseKernel.Auto, () =>
        {
            DenseKernels.ResetChoices();
            try
            {
                DenseKernels.SetChoice(400, 256, 192, hasBias: true, gelu: false, get_num_threads(), chosen);
                long before = DenseKernels.OneDnnCalls;
                for (int i = 0; i < 3; i++)
                    Assert.True(Same(Dense.Linear(x, w, b), chosen == DenseKernel.OneDnn ? oneDnnResult : torchResult));
                Assert.Equal(chosen == DenseKernel.OneDnn ? 3 : 0, DenseKernels.OneDnnCalls - before);
            }
            finally
            {
                DenseKernels.ResetChoices();
            }
        });
    }

    [Theory]
    [InlineData(DenseKernel.Auto)]
    [InlineData(DenseKernel.OneDnn)]
    public void HundredProductsLeaveNoLiveTensors(DenseKernel kernel)
    {
        var generator = new Generator(16);
        using var x = randn([2, 9, 32], generator: generator);
        using var w = randn([24, 32], generator: generator);
        using var b = randn([24], generator: generator);
        using var _ = no_grad();
        WithKernel(kernel, () =>
        {
            for (int i = 0; i < 10; i++) Dense.Linear(x, w, i % 2 == 0 ? b : null).Dispose();    // warm-up, Auto measures
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 100; i++)
            {
                using var scope = NewDisposeScope();
                Dense.Linear(x, w, i % 2 == 0 ? b : null);
            }
            long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            Assert.Equal(before, after);
        });
    }

    [Fact]
    public void OneDnnRefusesOtherDtypesAndMismatchedShapes()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<DebertaInputException>(() => DenseKernels.OneDnn(ones(2, 4, dtype: ScalarType.Float64), ones(3, 4), null));
        Assert.Contains("x is Float64", error.Message);
        error = Assert.Throws<DebertaInputException>(() => DenseKernels.OneDnn(ones(2, 4), ones(3, 5), ones(3)));
        Assert.Contains("weight [3, 5]", error.Message);
    }

    [Fact]
    public void UndefinedKernelIsRefused()
    {
        var error = Assert.Throws<DebertaConfigurationException>(() => DenseKernels.Kernel = (DenseKernel)7);
        Assert.Contains("DenseKernels.Kernel", error.Message);
    }
}
