using DebertaSharp.Pipelines;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>The pipelines example of README.md, run on the sample checkpoints it names.</summary>
public class ReadmePipelinesExampleTests
{
    private static string Sample(string name) =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "models", name));

    [Fact]
    public void ReadmeExampleRuns()
    {
        using var fill = FillMaskPipeline.FromPretrained(Sample("tiny-fill-mask"));
        MaskPredictions mask = fill.Predict("Permission is hereby [MASK], free of charge.")[0];
        Assert.Equal(5, mask.Predictions.Count);

        using var ner = TokenClassificationPipeline.FromPretrained(Sample("tiny-ner"));
        const string text = "Ada Lovelace lived in London.";
        foreach (TokenEntity e in ner.Recognize(text, new() { Aggregation = AggregationStrategy.First }))
        {
            Assert.Equal(text[e.Start..e.End], e.Word);
        }

        using var qa = QuestionAnsweringPipeline.FromPretrained(Sample("tiny-qa"));
        QuestionAnswer a = qa.Answer("Where did she live?", text)[0];
        Assert.Equal(text[a.Start..a.End], a.Answer);
    }
}
