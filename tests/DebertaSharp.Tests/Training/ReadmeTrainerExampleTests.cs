using DebertaSharp.Configuration;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using Xunit;

namespace DebertaSharp.Tests.Training;

/// <summary>README's fine-tuning example, on the quick start's model configuration and data (a few steps, pairs made of two sentences).</summary>
[Collection(SerialTorchRng.Name)]
public class ReadmeTrainerExampleTests
{
    private static string Samples => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples"));

    [Fact]
    public void ReadmeFineTuningExampleRuns()
    {
        using var tmp = new TempDir();
        string modelDir = Path.Combine(Samples, "QuickStart", "tiny-deberta");
        // A pair file in the README's column names, from the quick start's data: (sentence, next sentence) → label of the first.
        var rows = File.ReadAllLines(Path.Combine(Samples, "data", "topics-test.csv")).Skip(1).Take(41).ToArray();
        string Pairs(IEnumerable<string> lines) => "premise,hypothesis,label\n" + string.Join("\n", lines.Zip(lines.Skip(1)).Select(p =>
        {
            int a = p.First.LastIndexOf(','), b = p.Second.LastIndexOf(',');
            return $"{p.First[..a]},{p.Second[..b]},{p.First[(a + 1)..]}";
        }));
        File.WriteAllText(Path.Combine(tmp.Path, "train.csv"), Pairs(rows.Take(33)));
        File.WriteAllText(Path.Combine(tmp.Path, "dev.csv"), Pairs(rows.Skip(30)));

        var tokenizer = AutoTokenizer.FromPretrained(modelDir);
        var train = TextClassificationDataset.Load(Path.Combine(tmp.Path, "train.csv"), tokenizer,
            new TextClassificationDatasetOptions { TextColumn = "premise", PairColumn = "hypothesis", LabelColumn = "label" });
        var eval = TextClassificationDataset.Load(Path.Combine(tmp.Path, "dev.csv"), tokenizer, train.Options);

        TrainingSeed.Set(42);
        using var model = FineTuningModel.Create(DebertaConfig.FromPretrained(modelDir), train);   // README: FromPretrained(checkpoint, train)
        var trainer = new Trainer(model, train, eval, new TrainerOptions
        {
            OutputDirectory = Path.Combine(tmp.Path, "out", "nli"),
            Epochs = 1,
            BatchSize = 16,
            Optimizer = new AdamWOptions { LearningRate = 2e-5, WeightDecay = 0.01 },
            WarmupRatio = 0.06,
            EvalSteps = 500,
            EarlyStoppingPatience = 3,
            Tokenizer = tokenizer,
        });
        using var cts = new CancellationTokenSource();
        var reports = new List<TrainingProgress>();
        var result = trainer.Train(progress: new TrainerTests.SyncProgress(reports.Add), cancellationToken: cts.Token);
        Assert.InRange(result.EvalMetrics!["eval_accuracy"], 0, 1);
        Assert.Contains("eval_f1_macro", result.EvalMetrics.Keys);
        Assert.Contains("eval_mcc", result.EvalMetrics.Keys);
        Assert.Equal(2, result.GlobalStep);
        Assert.Contains(reports, r => r.Event == TrainingEvent.Finished);
    }
}
