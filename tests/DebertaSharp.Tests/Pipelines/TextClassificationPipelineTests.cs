using DebertaSharp.Modeling;
using DebertaSharp.Pipelines;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>text classification against direct model calls: function_to_apply rules, label names, pairs, batching.</summary>
public class TextClassificationPipelineTests
{
    private static readonly string[] Texts = ["A wonderful, free program.", "Permission is hereby granted.", "No warranty of any kind, express or implied, is given here."];

    [Fact]
    public void SingleLabelScoresAreTheSoftmaxOfTheLogitsUnderTheirNames()
    {
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        Assert.Equal(ClassificationFunction.Softmax, classifier.DefaultFunction);
        var all = classifier.Classify(Texts[0], new TextClassificationOptions { TopK = null });
        double[] expected = Direct.Softmax(Direct.Logits(classifier.Model, classifier.Tokenizer.Encode(Texts[0])));
        Assert.Equal(2, all.Count);
        Assert.Equal(["negative", "positive"], all.Select(s => s.Label).Order());
        Assert.Equal(expected[0], all.Single(s => s.Label == "negative").Score, 1e-5);
        Assert.Equal(expected[1], all.Single(s => s.Label == "positive").Score, 1e-5);
        Assert.True(all[0].Score >= all[1].Score);
        Assert.Equal(all[0], Assert.Single(classifier.Classify(Texts[0])));     // default top_k = 1
    }

    [Fact]
    public void PairsAreEncodedAsPairs()
    {
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        var scores = classifier.Classify("A soccer game with multiple males playing.", "Some men are playing a sport.", new TextClassificationOptions { TopK = null });
        double[] expected = Direct.Softmax(Direct.Logits(classifier.Model,
            classifier.Tokenizer.Encode("A soccer game with multiple males playing.", "Some men are playing a sport.")));
        Assert.Equal(expected[1], scores.Single(s => s.Label == "positive").Score, 1e-5);
        double[] single = Direct.Softmax(Direct.Logits(classifier.Model, classifier.Tokenizer.Encode("A soccer game with multiple males playing.")));
        Assert.NotEqual(single[1], scores.Single(s => s.Label == "positive").Score, 3);
    }

    [Fact]
    public void MultiLabelUsesSigmoidAndRegressionTheRawValue()
    {
        using (var multi = TextClassificationPipeline.FromPretrained(TaskModels.MultiLabel))
        {
            Assert.Equal(ClassificationFunction.Sigmoid, multi.DefaultFunction);
            var scores = multi.Classify(Texts[1], new TextClassificationOptions { TopK = null });
            float[] logits = Direct.Logits(multi.Model, multi.Tokenizer.Encode(Texts[1]));
            string[] names = ["toxic", "obscene", "insult"];
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(Direct.Sigmoid(logits[k]), scores.Single(s => s.Label == names[k]).Score, 1e-5);
            }

            Assert.NotEqual(1.0, scores.Sum(s => s.Score), 2);
        }

        using var regression = TextClassificationPipeline.FromPretrained(TaskModels.Regression);
        Assert.Equal(ClassificationFunction.None, regression.DefaultFunction);
        LabelScore value = Assert.Single(regression.Classify(Texts[1]));
        Assert.Equal("similarity", value.Label);
        Assert.Equal(Direct.Logits(regression.Model, regression.Tokenizer.Encode(Texts[1]))[0], value.Score, 1e-5);
    }

    [Fact]
    public void FunctionCanBeChosen()
    {
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        float[] logits = Direct.Logits(classifier.Model, classifier.Tokenizer.Encode(Texts[2]));
        var raw = classifier.Classify(Texts[2], new TextClassificationOptions { Function = ClassificationFunction.None, TopK = null });
        Assert.Equal(logits[1], raw.Single(s => s.Label == "positive").Score, 1e-5);
        var sigmoid = classifier.Classify(Texts[2], new TextClassificationOptions { Function = ClassificationFunction.Sigmoid, TopK = null });
        Assert.Equal(Direct.Sigmoid(logits[0]), sigmoid.Single(s => s.Label == "negative").Score, 1e-5);
    }

    [Fact]
    public void BatchesGiveTheSameScoresAsSingleTexts()
    {
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        classifier.BatchSize = 2;
        var options = new TextClassificationOptions { TopK = null };
        var batched = classifier.Classify(Texts, null, options);
        Assert.Equal(Texts.Length, batched.Count);
        for (int i = 0; i < Texts.Length; i++)
        {
            var single = classifier.Classify(Texts[i], options);
            Assert.Equal(single.Select(s => s.Label), batched[i].Select(s => s.Label));
            Assert.Equal(single[0].Score, batched[i][0].Score, 1e-5);
        }
    }

    [Fact]
    public void LongTextsAreTruncatedToMaxLength()
    {
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        classifier.MaxLength = 8;
        string text = string.Join(" ", Enumerable.Repeat("free software", 20));
        var truncated = classifier.Tokenizer.Encode(text, new DebertaSharp.Tokenization.EncodeOptions { MaxLength = 8 });
        Assert.Equal(8, truncated.Length);
        double[] expected = Direct.Softmax(Direct.Logits(classifier.Model, truncated));
        Assert.Equal(expected.Max(), classifier.Classify(text)[0].Score, 1e-5);
    }

    [Fact]
    public void BadInputIsNamed()
    {
        using var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment);
        Assert.Contains("empty", Assert.Throws<DebertaInputException>(() => classifier.Classify("")).Message);
        Assert.Contains("text pair", Assert.Throws<DebertaInputException>(() => classifier.Classify("fine", " ")).Message);
        Assert.Contains("top_k", Assert.Throws<DebertaInputException>(() => classifier.Classify("fine", new TextClassificationOptions { TopK = 0 })).Message);
        Assert.Contains("counts", Assert.Throws<DebertaInputException>(() => classifier.Classify(["a", "b"], ["c"])).Message);
        Assert.Contains("SequenceClassification", Assert.Throws<DebertaConfigurationException>(() => TextClassificationPipeline.FromPretrained(TaskModels.Ner)).Message);
    }
}
