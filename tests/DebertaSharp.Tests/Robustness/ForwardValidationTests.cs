using DebertaSharp.Cli.Commands;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Training;
using TorchSharp;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// Every input tensor is checked against the head before libtorch sees it (before: ExternalException with C++
/// frames: "Target 7 is out of bounds", "expected scalar type Long but found Int", "cannot reshape tensor of 0
/// elements"); int32 ids and labels are accepted by converting, as HF does.
/// </summary>
[Collection(SerialTorchRng.Name)]
public class ForwardValidationTests
{
    private static DebertaConfig Config(int labels = 2) { var c = TinyModels.V3(numLabels: labels, dropout: 0); return c; }

    private static Tensor Ids(long b = 2, long l = 6) => arange(b * l, dtype: ScalarType.Int64).remainder(100).add(1).view(b, l);

    private static void Fails(DebertaPreTrainedModel model, DebertaInputs inputs, params string[] named)
    {
        var e = Assert.Throws<DebertaInputException>(() => { using var _ = model.Forward(inputs); });
        foreach (var n in named) Assert.Contains(n, e.Message);
    }

    [Fact]
    public void SequenceClassificationLabels()
    {
        using var model = new DebertaForSequenceClassification(Config());
        model.eval();
        var ids = Ids();
        Fails(model, new DebertaInputs(ids) { Labels = tensor(new long[] { 0, 7 }) }, "labels value 7", "num_labels");
        Fails(model, new DebertaInputs(ids) { Labels = tensor(new float[] { 0, 1 }) }, "labels must be int64", "Float32");
        Fails(model, new DebertaInputs(ids) { Labels = zeros(2, 6, dtype: ScalarType.Int64) }, "labels must be [batch, num_labels] = [2, 2]", "[2, 6]");
        Fails(model, new DebertaInputs(ids) { Labels = tensor(new long[] { 0, 1, 1 }) }, "labels", "[3]");
        using var asLong = model.Forward(new DebertaInputs(ids) { Labels = tensor(new long[] { 0, 1 }) });
        using var asInt = model.Forward(new DebertaInputs(ids.to(ScalarType.Int32)) { Labels = tensor(new int[] { 0, 1 }) });
        Assert.Equal(asLong.Loss!.item<float>(), asInt.Loss!.item<float>());
    }

    [Fact]
    public void RegressionAndMultiLabelLabels()
    {
        var regression = Config(labels: 1);
        using var model = new DebertaForSequenceClassification(regression);
        Fails(model, new DebertaInputs(Ids()) { Labels = tensor(new long[] { 0, 1 }) }, "labels must be floating point");
        var multi = Config(labels: 3);
        multi.ProblemType = "multi_label_classification";
        using var multiModel = new DebertaForSequenceClassification(multi);
        Fails(multiModel, new DebertaInputs(Ids()) { Labels = zeros(2, 2) }, "Multi-label labels must be [batch, num_labels] = [2, 3]");
    }

    [Fact]
    public void TokenClassificationLabels()
    {
        using var model = new DebertaForTokenClassification(Config(labels: 3));
        var ids = Ids();
        Fails(model, new DebertaInputs(ids) { Labels = tensor(new long[] { 0, 1 }) }, "labels", "shape of input_ids [2, 6]", "got [2]");
        var labels = full(2, 6, -100L, dtype: ScalarType.Int64);
        labels[0, 1] = tensor(5L);
        Fails(model, new DebertaInputs(ids) { Labels = labels }, "labels value 5 at [0, 1]", "num_labels", "-100");
        labels[0, 1] = tensor(2L);
        using var ok = model.Forward(new DebertaInputs(ids) { Labels = labels.to(ScalarType.Int32) });
        Assert.True(float.IsFinite(ok.Loss!.item<float>()));
    }

    [Fact]
    public void MaskedLmLabelsAndFloatIdsOfEveryKind()
    {
        using var model = new DebertaForMaskedLM(Config());
        var ids = Ids();
        Fails(model, new DebertaInputs(ids) { Labels = full(2, 6, 500L, dtype: ScalarType.Int64) }, "labels value 500", "vocab_size");
        Fails(model, new DebertaInputs(ids.to(ScalarType.Float32)), "input_ids must be int64");
        Fails(model, new DebertaInputs(ids) { TokenTypeIds = zeros(2, 6) }, "token_type_ids must be int64");
        Fails(model, new DebertaInputs(ids) { PositionIds = zeros(2, 6) }, "position_ids must be int64");
        var e = Assert.Throws<DebertaInputException>(() => { using var _ = model.ForwardMaskedTargets(new DebertaInputs(ids) { Labels = full(2, 6, 500L, dtype: ScalarType.Int64) }); });
        Assert.Contains("labels value 500", e.Message);
    }

    [Fact]
    public void MultipleChoiceShapesAndLabels()
    {
        using var model = new DebertaForMultipleChoice(Config());
        Fails(model, new DebertaInputs(zeros(2, 0, 6, dtype: ScalarType.Int64)), "empty");
        Fails(model, new DebertaInputs(zeros(2, 3, 0, dtype: ScalarType.Int64)), "empty");
        var ids = Ids(6, 5).view(2, 3, 5);
        Fails(model, new DebertaInputs(ids) { Labels = tensor(new long[] { 0, 3 }) }, "labels value 3", "choices");
        Fails(model, new DebertaInputs(ids) { AttentionMask = ones(2, 5, dtype: ScalarType.Int64) }, "attention_mask", "[2, 3, 5]");
        using var ok = model.Forward(new DebertaInputs(ids.to(ScalarType.Int32)) { Labels = tensor(new int[] { 0, 2 }) });
        Assert.Equal([2L, 3L], ok.Logits!.shape);
    }

    [Fact]
    public void MultipleChoiceTokenTypesAreRangeCheckedLikeTheEncodersOwn()
    {
        // The choices are flattened to [batch·choices, length] before the encoder's checks: token_type_ids too, not only the ids.
        var config = Config();
        config.TypeVocabSize = 2;
        using var model = new DebertaForMultipleChoice(config);
        var ids = Ids(6, 5).view(2, 3, 5);
        Fails(model, new DebertaInputs(ids) { TokenTypeIds = full(2, 3, 5, 2L) }, "token_type_ids", "type_vocab_size");
        using var ok = model.Forward(new DebertaInputs(ids) { TokenTypeIds = ones(2, 3, 5, dtype: ScalarType.Int64) });
        Assert.Equal([2L, 3L], ok.Logits!.shape);
    }

    [Fact]
    public void QuestionAnsweringPositions()
    {
        using var model = new DebertaForQuestionAnswering(Config());
        var ids = Ids();
        Fails(model, new DebertaInputs(ids) { StartPositions = tensor(new float[] { 0, 1 }), EndPositions = tensor(new long[] { 1, 2 }) }, "start_positions must be int64");
        Fails(model, new DebertaInputs(ids) { StartPositions = tensor(new long[] { 0, 1, 2 }), EndPositions = tensor(new long[] { 1, 2 }) }, "start_positions must be [batch] = [2]");
    }

    [Fact]
    public void CliForwardWithSequenceLabelsOnATokenHeadIsAUserErrorWithoutStackTrace()
    {
        // Issue 13 item 8: before, a native "Expected input batch_size (40) to match target batch_size (2)" with a stack trace.
        string folder = Golden("deberta-v3-heads", "seqcls");
        var root = new System.CommandLine.RootCommand { ForwardCommand.Create() };
        var err = new StringWriter();
        var saved = Console.Error;
        Console.SetError(err);
        string output = Path.Combine(Path.GetTempPath(), $"deberta-forward-{Guid.NewGuid():N}.safetensors");
        try
        {
            int code = root.Parse(["forward", "--model", folder, "--inputs", Path.Combine(folder, "inputs.safetensors"), "--output", output, "--head", "token-classification"]).Invoke();
            Assert.Equal(CliErrors.UserError, code);
            string text = err.ToString();
            Assert.Contains("labels", text);
            Assert.Contains("[2, 20]", text);
            Assert.DoesNotContain("   at ", text);
        }
        finally
        {
            Console.SetError(saved);
            File.Delete(output);
        }
    }
}
