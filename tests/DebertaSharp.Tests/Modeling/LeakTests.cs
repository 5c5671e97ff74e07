using DebertaSharp.Modeling;
using DebertaSharp.Tests.GoldenData;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>Forward passes free every intermediate: live native tensors do not grow.</summary>
public class LeakTests
{
    /// <summary>Under each dense kernel policy (the forward passes here run without autograd, where the policy applies).</summary>
    [Theory]
    [InlineData("deberta-v3", DenseKernel.Auto)]          // v2 path: buckets, rel LayerNorm, MLM head
    [InlineData("deberta-v2-conv", DenseKernel.Auto)]     // conv layer
    [InlineData("deberta-v1-talkinghead", DenseKernel.Auto)]
    [InlineData("deberta-v3-heads/mc", DenseKernel.Auto)]
    [InlineData("deberta-v3", DenseKernel.OneDnn)]
    [InlineData("deberta-v1-talkinghead", DenseKernel.OneDnn)]
    [InlineData("deberta-v3", DenseKernel.Torch)]
    public void HundredForwardPassesLeaveNoLiveTensors(string name, DenseKernel kernel)
    {
        var previous = DenseKernels.Kernel;
        DenseKernels.Kernel = kernel;
        try { HundredForwardPasses(name); }
        finally { DenseKernels.Kernel = previous; }
    }

    private static void HundredForwardPasses(string name)
    {
        var golden = new GoldenCase(name);
        using var model = AutoModel.FromPretrained(golden.Folder);
        var tensors = golden.Inputs();
        var inputs = GoldenCase.ToInputs(tensors);
        using var _ = no_grad();
        for (int i = 0; i < 2; i++)
            model.Forward(inputs, outputHiddenStates: true, outputAttentions: true).Dispose();   // warm-up

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 100; i++)
        {
            using var output = model.Forward(inputs, outputHiddenStates: i % 2 == 0, outputAttentions: i % 3 == 0);
            Assert.NotNull(output.LastHiddenState);
        }
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
        foreach (var t in tensors.Values) t.Dispose();
    }

    /// <summary>
    /// Issue 14: with hidden states requested, <c>LastHiddenState</c> is <c>HiddenStates[^1]</c>; moved out twice it
    /// skipped the caller's scope and outlived it while <c>hidden_states.N</c> was freed.
    /// </summary>
    [Theory]
    [InlineData("deberta-v3", true)]
    [InlineData("deberta-v3", false)]
    [InlineData("deberta-v3-heads/mc", true)]
    public void EveryOutputTensorDiesWithTheCallersScope(string name, bool attentions)
    {
        var golden = new GoldenCase(name);
        using var model = AutoModel.FromPretrained(golden.Folder);
        var tensors = golden.Inputs();
        var inputs = GoldenCase.ToInputs(tensors);
        using var _ = no_grad();
        List<KeyValuePair<string, Tensor>> named;
        using (NewDisposeScope())
        {
            var output = model.Forward(inputs, outputHiddenStates: true, outputAttentions: attentions);
            named = output.NamedTensors().ToList();
            Assert.Same(output.LastHiddenState, output.HiddenStates![^1]);
            Assert.All(named, kv => Assert.False(kv.Value.IsInvalid, kv.Key));
        }
        var escaped = named.Where(kv => !kv.Value.IsInvalid).Select(kv => kv.Key).ToList();
        foreach (var kv in named) if (!kv.Value.IsInvalid) kv.Value.Dispose();
        Assert.Empty(escaped);
        foreach (var t in tensors.Values) t.Dispose();
    }
}
