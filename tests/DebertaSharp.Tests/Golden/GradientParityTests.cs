using DebertaSharp.Modeling;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.GoldenData;

/// <summary>deberta-v3-grad: gradients of a training step and the loss after one plain SGD step (lr 0.1).</summary>
public class GradientParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("fast")]
    [InlineData("fast-sdpa")]
    [InlineData("chunked")]
    [InlineData("reference")]
    public void GradientsAndSgdStepMatchReference(string mode)
    {
        var golden = new GoldenCase("deberta-v3-grad");
        using var model = AutoModel.FromPretrained(golden.Folder);
        model.AttentionOptions = DebertaSharp.Tests.Modeling.FastAttentionTests.Options(mode);
        model.train();   // all dropout probabilities are 0 in this config
        var inputs = GoldenCase.ToInputs(golden.Inputs());
        var expected = golden.Expected();

        using (var result = model.Forward(inputs))
        {
            var (lossDiff, lossLimit) = Parity.Compare(result.Loss!, expected["loss"]);
            Assert.True(lossDiff <= lossLimit, $"loss: {lossDiff:E3}");
            result.Loss!.backward();
        }

        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var grads = expected.Where(kv => kv.Key.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(grads);
        foreach (var (key, reference) in grads)
        {
            string name = key["grad.".Length..];
            Assert.True(parameters.ContainsKey(name), $"model has no parameter {name}");
            var grad = parameters[name].grad;
            Assert.NotNull(grad);
            var (diff, limit) = Parity.Compare(grad!, reference);
            output.WriteLine($"{key}: max|Δ| = {diff:E2} (limit {limit:E2})");
            Assert.True(diff <= limit, $"{key}: max|Δ| {diff:E3} > {limit:E3}");
        }
        // The padding row of the word embeddings never receives gradient (padding_idx).
        Assert.Equal(0.0, parameters["deberta.embeddings.word_embeddings.weight"].grad![0].abs().sum().item<float>());

        using (no_grad())
            foreach (var p in parameters.Values)
                if (p.grad is { } g) p.sub_(g * 0.1);
        using var after = model.Forward(inputs);
        var (stepDiff, stepLimit) = Parity.Compare(after.Loss!, expected["loss_after_sgd_step"]);
        output.WriteLine($"loss_after_sgd_step: max|Δ| = {stepDiff:E2}");
        Assert.True(stepDiff <= stepLimit, $"loss_after_sgd_step: {stepDiff:E3} > {stepLimit:E3}");
    }
}
