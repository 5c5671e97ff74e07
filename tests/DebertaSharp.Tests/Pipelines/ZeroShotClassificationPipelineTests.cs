using DebertaSharp.Pipelines;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>zero-shot against direct NLI calls: entailment softmax over labels, per-label entail/contradiction softmax, label2id lookup.</summary>
public class ZeroShotClassificationPipelineTests
{
    private const string Sequence = "The program is distributed in the hope that it will be useful.";
    private static readonly string[] Labels = ["software", "cooking", "sports"];

    private static float[][] NliLogits(ZeroShotClassificationPipeline zs, string template = "This example is {}.") =>
        Labels.Select(l => Direct.Logits(zs.Model, zs.Tokenizer.Encode(Sequence, template.Replace("{}", l)))).ToArray();

    [Fact]
    public void SingleLabelIsTheSoftmaxOfEntailmentOverTheLabels()
    {
        using var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.Nli);
        Assert.Equal(2, zs.EntailmentId);
        Assert.Equal(0, zs.ContradictionId);
        ZeroShotResult result = zs.Classify(Sequence, Labels);
        double[] expected = Direct.Softmax(NliLogits(zs).Select(l => l[2]).ToArray());
        Assert.Equal(Sequence, result.Sequence);
        Assert.Equal(Labels.Order(), result.Labels.Select(l => l.Label).Order());
        for (int j = 0; j < Labels.Length; j++)
        {
            Assert.Equal(expected[j], result.Labels.Single(l => l.Label == Labels[j]).Score, 1e-5);
        }

        Assert.Equal(1.0, result.Labels.Sum(l => l.Score), 1e-4);
        Assert.True(result.Labels.Zip(result.Labels.Skip(1)).All(p => p.First.Score >= p.Second.Score));
    }

    [Fact]
    public void MultiLabelIsEntailmentAgainstContradictionPerLabel()
    {
        using var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.Nli);
        const string template = "The topic is {}.";
        ZeroShotResult result = zs.Classify(Sequence, Labels, new ZeroShotOptions { MultiLabel = true, HypothesisTemplate = template });
        float[][] logits = NliLogits(zs, template);
        for (int j = 0; j < Labels.Length; j++)
        {
            double expected = Direct.Softmax([logits[j][0], logits[j][2]])[1];
            Assert.Equal(expected, result.Labels.Single(l => l.Label == Labels[j]).Score, 1e-5);
        }

        // One candidate label is scored as multi-label (HF).
        ZeroShotResult one = zs.Classify(Sequence, ["software"], new ZeroShotOptions { HypothesisTemplate = template });
        Assert.Equal(Direct.Softmax([logits[0][0], logits[0][2]])[1], Assert.Single(one.Labels).Score, 1e-5);
    }

    [Fact]
    public void EntailmentAndContradictionComeFromLabel2Id()
    {
        using var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.NliEntailmentFirst);
        Assert.Equal(0, zs.EntailmentId);
        Assert.Equal(2, zs.ContradictionId);
        ZeroShotResult result = zs.Classify(Sequence, Labels, new ZeroShotOptions { MultiLabel = true });
        float[][] logits = NliLogits(zs);
        Assert.Equal(Direct.Softmax([logits[1][2], logits[1][0]])[1], result.Labels.Single(l => l.Label == Labels[1]).Score, 1e-5);
    }

    [Fact]
    public void BatchedSequencesMatchSingleOnes()
    {
        using var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.Nli);
        zs.BatchSize = 4;
        string[] sequences = [Sequence, "Add the eggs and stir.", "The team won the final."];
        var batched = zs.Classify(sequences, Labels);
        for (int i = 0; i < sequences.Length; i++)
        {
            var single = zs.Classify(sequences[i], Labels);
            Assert.Equal(single.Labels.Select(l => l.Label), batched[i].Labels.Select(l => l.Label));
            Assert.Equal(single.Labels[0].Score, batched[i].Labels[0].Score, 1e-5);
        }
    }

    [Fact]
    public void LabelsParseLikeHf() =>
        Assert.Equal(["sports", "politics", "tech"], ZeroShotClassificationPipeline.ParseLabels(" sports, politics,,tech ,"));

    [Fact]
    public void BadInputIsNamed()
    {
        using var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.Nli);
        Assert.Contains("candidate labels", Assert.Throws<DebertaInputException>(() => zs.Classify(Sequence, [])).Message);
        Assert.Contains("label 1 is empty", Assert.Throws<DebertaInputException>(() => zs.Classify(Sequence, ["a", " "])).Message);
        Assert.Contains("{}", Assert.Throws<DebertaInputException>(() => zs.Classify(Sequence, Labels, new ZeroShotOptions { HypothesisTemplate = "About this." })).Message);
        Assert.Contains("empty", Assert.Throws<DebertaInputException>(() => zs.Classify("", Labels)).Message);
    }

    [Fact]
    public void AModelWithoutEntailmentLabelIsRefused()
    {
        var ex = Assert.Throws<DebertaConfigurationException>(() => ZeroShotClassificationPipeline.FromPretrained(TaskModels.Sentiment));
        Assert.Contains("entail", ex.Message);
        Assert.Contains("negative, positive", ex.Message);
        Assert.Throws<DebertaConfigurationException>(() => ZeroShotClassificationPipeline.FromPretrained(TaskModels.QuestionAnswering));
    }
}
