using DebertaSharp.Modeling;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.GoldenData;

/// <summary>
/// Every golden model case: every tensor of expected.safetensors within tolerance, with each attention implementation
/// (fast with the explicit product, fast through scaled_dot_product_attention, fast in query chunks of 3, reference),
/// and again in inference mode with each dense kernel (libtorch's linear, oneDNN) forced.
/// </summary>
public class GoldenParityTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> CasesAndModes() =>
        from c in GoldenCase.ModelCases()
        from mode in new[] { "fast", "fast-sdpa", "chunked", "reference" }
        select new object[] { c[0], mode };

    public static IEnumerable<object[]> CasesModesAndKernels() =>
        from c in CasesAndModes()
        from kernel in new[] { DenseKernel.Torch, DenseKernel.OneDnn }
        select new object[] { c[0], c[1], kernel };

    [Theory]
    [MemberData(nameof(CasesAndModes))]
    public void ForwardMatchesReference(string name, string mode) => CheckForward(name, mode, label: mode);

    /// <summary>The same cases in inference mode (where the dense kernel choice applies) with each kernel forced.</summary>
    [Theory]
    [MemberData(nameof(CasesModesAndKernels))]
    public void InferenceForwardMatchesReferenceWithEitherDenseKernel(string name, string mode, DenseKernel kernel)
    {
        var previous = DenseKernels.Kernel;
        DenseKernels.Kernel = kernel;
        try
        {
            using var inference = inference_mode();
            CheckForward(name, mode, label: $"{mode}, {kernel}, inference mode");
        }
        finally
        {
            DenseKernels.Kernel = previous;
        }
    }

    /// <summary>The same cases frozen for inference (prepacked dense weights, <see cref="DebertaPreTrainedModel.FreezeForInference"/>).</summary>
    [Theory]
    [MemberData(nameof(CasesAndModes))]
    public void FrozenInferenceForwardMatchesReference(string name, string mode)
    {
        using var inference = inference_mode();
        CheckForward(name, mode, label: $"{mode}, frozen, inference mode", freeze: true);
    }

    private void CheckForward(string name, string mode, string label, bool freeze = false)
    {
        var golden = new GoldenCase(name);
        using var model = AutoModel.FromPretrained(golden.Folder);
        if (freeze) model.FreezeForInference();
        model.AttentionOptions = DebertaSharp.Tests.Modeling.FastAttentionTests.Options(mode);
        var inputs = golden.Inputs();
        var expected = golden.Expected();
        using var result = model.Forward(GoldenCase.ToInputs(inputs), outputHiddenStates: true, outputAttentions: true);
        var actual = result.NamedTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        var comparisons = Parity.CompareForward(actual, expected, inputs["attention_mask"]);
        foreach (var (key, diff, limit) in comparisons)
            output.WriteLine($"{name} ({label}) {key}: max|Δ| = {diff:E2} (limit {limit:E2})");
        var failures = comparisons.Where(c => !(c.MaxDiff <= c.Limit)).Select(c => $"{c.Name}: max|Δ| {c.MaxDiff:E3} > {c.Limit:E3}").ToList();
        Assert.True(failures.Count == 0, $"{name} ({label}): " + string.Join("; ", failures));
    }
}

/// <summary>Key-level checks: every golden checkpoint loads with no missing and no unexpected keys.</summary>
public class GoldenLoadReportTests
{
    [Theory]
    [MemberData(nameof(GoldenCase.ModelCases), MemberType = typeof(GoldenCase))]
    public void LoadsEveryKeyByName(string name)
    {
        var golden = new GoldenCase(name);
        using var model = AutoModel.FromPretrained(golden.Folder);
        var report = model.LoadReport!;
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Null(report.PrefixAdaptation);
        Assert.Equal(model.state_dict().Count, report.Loaded.Count);
    }
}
