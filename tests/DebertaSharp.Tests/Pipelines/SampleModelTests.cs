using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Pipelines;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>
/// The tiny task checkpoints under <c>samples/models</c> that the samples and the README commands run on: random
/// weights from a fixed seed plus the v3 fixture tokenizer. The test rebuilds each one and checks that the committed
/// files are exactly what the generator writes, and that it runs through its pipeline.
/// To regenerate them: <c>DEBERTASHARP_WRITE_SAMPLE_MODELS=1 dotnet test --filter SampleModelTests</c>.
/// </summary>
public class SampleModelTests
{
    /// <summary>Folder name, seed and model of every sample checkpoint.</summary>
    public static readonly (string Name, int Seed, Func<DebertaConfig, DebertaPreTrainedModel> Build)[] Samples =
    [
        ("tiny-fill-mask", 101, c => new DebertaForMaskedLM(c, enhancedMaskDecoder: true)),
        ("tiny-sentiment", 102, c => Labelled(c, ["negative", "positive"], x => new DebertaForSequenceClassification(x))),
        ("tiny-nli", 103, c => Labelled(c, TaskModels.NliLabels, x => new DebertaForSequenceClassification(x))),
        ("tiny-ner", 104, c => Labelled(c, ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"], x => new DebertaForTokenClassification(x))),
        ("tiny-qa", 105, c => new DebertaForQuestionAnswering(c)),
    ];

    public static TheoryData<string> Names() => new(Samples.Select(s => s.Name));

    private static DebertaPreTrainedModel Labelled(DebertaConfig config, string[] labels, Func<DebertaConfig, DebertaPreTrainedModel> build)
    {
        config.SetLabels(labels);
        return build(config);
    }

    private static string SamplesFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DebertaSharp.sln")))
            {
                return Path.Combine(dir.FullName, "samples", "models");
            }
        }

        throw new DirectoryNotFoundException("No DebertaSharp.sln above " + AppContext.BaseDirectory);
    }

    private static void Write(string name, string folder)
    {
        var (_, seed, build) = Samples.Single(s => s.Name == name);
        Directory.CreateDirectory(folder);
        using (var model = build(TaskModels.Config()))
        {
            TaskModels.Randomize(model, seed);
            model.SavePretrained(folder);
        }

        TaskModels.CopyTokenizer(folder);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void CommittedCheckpointIsTheGeneratorsOutput(string name)
    {
        string committed = Path.Combine(SamplesFolder(), name);
        if (Environment.GetEnvironmentVariable("DEBERTASHARP_WRITE_SAMPLE_MODELS") == "1")
        {
            Write(name, committed);
        }

        string fresh = Path.Combine(Path.GetTempPath(), $"debertasharp-sample-{Guid.NewGuid():N}");
        try
        {
            Write(name, fresh);
            foreach (string file in Directory.GetFiles(fresh))
            {
                string other = Path.Combine(committed, Path.GetFileName(file));
                Assert.True(File.Exists(other), $"{other} is missing");
                Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(other)), $"{other} differs from the generator's output");
            }
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    [Fact]
    public void EachSampleRunsThroughItsPipeline()
    {
        string root = SamplesFolder();
        using (var fill = FillMaskPipeline.FromPretrained(Path.Combine(root, "tiny-fill-mask")))
        {
            Assert.True(fill.UsesEnhancedMaskDecoder);
            Assert.Equal(5, fill.Predict("The software is provided [MASK] is.")[0].Predictions.Count);
        }

        using (var classifier = TextClassificationPipeline.FromPretrained(Path.Combine(root, "tiny-sentiment")))
        {
            Assert.Contains(classifier.Classify("I love this free software.")[0].Label, new[] { "negative", "positive" });
        }

        using (var zeroShot = ZeroShotClassificationPipeline.FromPretrained(Path.Combine(root, "tiny-nli")))
        {
            Assert.Equal(3, zeroShot.Classify("The licence allows copying.", ["law", "sports", "cooking"]).Labels.Count);
        }

        using (var ner = TokenClassificationPipeline.FromPretrained(Path.Combine(root, "tiny-ner")))
        {
            Assert.NotEmpty(ner.Recognize("Richard Stallman founded the Free Software Foundation in Boston.", new TokenClassificationOptions { IgnoreLabels = [] }));
        }

        using var qa = QuestionAnsweringPipeline.FromPretrained(Path.Combine(root, "tiny-qa"));
        Assert.Single(qa.Answer("Who founded it?", "Richard Stallman founded the Free Software Foundation in Boston."));
    }
}
