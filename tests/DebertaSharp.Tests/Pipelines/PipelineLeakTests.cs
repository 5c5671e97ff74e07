using DebertaSharp.Pipelines;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>Every pipeline call frees all the tensors it makes.</summary>
public class PipelineLeakTests
{
    private static void NoTensorsLeft(Action call)
    {
        call();                                                      // first call: lazy initialisation
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        call();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void NoPipelineLeaksTensors()
    {
        string[] texts = ["Ada Lovelace lived in London.", "A second, longer text about free software and its licence."];
        using (var classifier = TextClassificationPipeline.FromPretrained(TaskModels.Sentiment))
        {
            NoTensorsLeft(() => classifier.Classify(texts, null));
        }

        using (var zs = ZeroShotClassificationPipeline.FromPretrained(TaskModels.Nli))
        {
            NoTensorsLeft(() => zs.Classify(texts, ["a", "b", "c"]));
        }

        using (var ner = TokenClassificationPipeline.FromPretrained(TaskModels.Ner))
        {
            ner.MaxLength = 8;
            NoTensorsLeft(() => ner.Recognize(texts, new TokenClassificationOptions { Aggregation = AggregationStrategy.Average }));
        }

        using var qa = QuestionAnsweringPipeline.FromPretrained(TaskModels.QuestionAnswering);
        NoTensorsLeft(() => qa.Answer(["Who?", "What?"], texts, new QuestionAnsweringOptions { MaxSequenceLength = 10, DocStride = 2 }));
    }
}
