// DebertaSharp quick start: fine-tune a DeBERTa text classifier, report held-out metrics, save it in HuggingFace
// layout, load it back, classify a few sentences and draw the loss curve.
//
//   dotnet run --project samples/QuickStart                      tiny model built from a config + the topics data in the repo
//   dotnet run --project samples/QuickStart -- --model DIR --train FILE [--eval FILE] [--text-column text]
//       [--label-column label] [--epochs N] [--lr X] [--batch-size N] [--max-length 128] [--threads N] [--output DIR]
//       [--mixed-precision none|bf16|fp16]
//   (epochs, lr and batch size default to 8, 2e-3, 32 for a small model, hidden size < 256, else 3, 2e-5, 16)
using System.Globalization;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using static TorchSharp.torch;

var arguments = Arguments.Parse(args);
string here = AppContext.BaseDirectory;
bool builtIn = arguments.Get("--model") is null;
string modelDir = arguments.Get("--model") ?? Path.Combine(here, "tiny-deberta");
string trainFile = arguments.Get("--train") ?? Path.Combine(here, "data", "topics-train.csv");
string? evalFile = arguments.Get("--eval") ?? (builtIn && arguments.Get("--train") is null ? Path.Combine(here, "data", "topics-test.csv") : null);
string output = Path.GetFullPath(arguments.Get("--output") ?? "quickstart-output");
int seed = 42;
// Defaults by model size. A small model (hidden size below 256: the built-in one, samples/models/tiny-*) has random or
// barely trained weights and needs a large learning rate and more epochs (2e-3 × 8); a pre-trained checkpoint of
// base size is fine-tuned with the usual 2e-5 × 3. Small models are also fastest on one thread: their many tiny
// operations gain nothing from a second one, and on a busy machine the OpenMP threads wait for each other.
var modelConfig = DebertaConfig.FromPretrained(modelDir);
bool small = modelConfig.HiddenSize < 256;
set_num_threads(arguments.Int("--threads", TorchThreads.For(modelConfig)));

// 1. Data: tokenised once, padded per batch. Without --eval, 10 % of the training file is held out.
var tokenizer = AutoTokenizer.FromPretrained(modelDir);
var columns = new TextClassificationDatasetOptions
{
    TextColumn = arguments.Get("--text-column") ?? "text",
    LabelColumn = arguments.Get("--label-column") ?? "label",
    MaxLength = arguments.Int("--max-length", builtIn ? 48 : 128),
};
var data = TextClassificationDataset.Load(trainFile, tokenizer, columns);
FineTuningDataset train = data, heldOut;
IEnumerable<long> heldOutClasses;
if (evalFile is not null)
{
    var evalData = TextClassificationDataset.Load(evalFile, tokenizer, data.Options);
    (heldOut, heldOutClasses) = (evalData, evalData.ClassIndices);
}
else
{
    var (trainPart, heldOutPart) = data.Split(0.1, seed);
    (train, heldOut, heldOutClasses) = (trainPart, heldOutPart, heldOutPart.Items.Select(i => data.ClassIndices[i]));
}
Console.WriteLine($"{train.Count} training and {heldOut.Count} held-out examples, labels: {string.Join(", ", data.Labels)}");

// 2. Model: the built-in one is made from its config.json (random weights); a real checkpoint gives its encoder and
//    gets a new classification head with the data's labels (id2label / label2id / problem_type).
TrainingSeed.Set(seed);
using var model = builtIn
    ? FineTuningModel.Create(modelConfig, data)
    : FineTuningModel.FromPretrained(modelDir, data);
Console.WriteLine($"{model.ArchitectureName}: {model.parameters().Sum(p => p.numel()):N0} parameters");

// 3. Train: AdamW, warm-up then linear decay, evaluation on the held-out split after every epoch, best checkpoint kept.
var trainer = new Trainer(model, train, heldOut, new TrainerOptions
{
    OutputDirectory = output,
    Epochs = arguments.Int("--epochs", small ? 8 : 3),
    BatchSize = arguments.Int("--batch-size", small ? 32 : 16),
    Optimizer = new AdamWOptions { LearningRate = arguments.Double("--lr", small ? 2e-3 : 2e-5) },
    WarmupRatio = 0.1,
    GroupByLength = true,
    MixedPrecision = arguments.Precision("--mixed-precision"),   // bf16: products in bfloat16, fast with avx512_bf16/AMX
    Seed = seed,
    OverwriteOutputDirectory = true,              // running the quick start again replaces its last run
    Tokenizer = tokenizer,                        // saved into every checkpoint and the output folder
});
var result = trainer.Train(progress: new ConsoleProgress());

// 4. Held-out metrics against always answering the most frequent training label.
var trainClasses = train is FineTuningSubset part ? part.Items.Select(i => data.ClassIndices[i]) : data.ClassIndices;
string majority = data.Labels[(int)trainClasses.GroupBy(c => c).MaxBy(g => g.Count())!.Key];
double baseline = heldOutClasses.Average(c => data.Labels[(int)c] == majority ? 1.0 : 0.0);
var m = result.EvalMetrics!;
Console.WriteLine($"held-out accuracy {m["eval_accuracy"]:P1} (majority baseline '{majority}' {baseline:P1}), " +
                  $"macro F1 {m["eval_f1_macro"]:F3}, MCC {m["eval_mcc"]:F3}; trained {result.GlobalStep} steps in {result.Runtime.TotalSeconds:F0} s");

// 5. The saved folder is an ordinary HF checkpoint: load it back and classify new sentences.
using var reloaded = DebertaForSequenceClassification.FromPretrained(output);
var savedTokenizer = AutoTokenizer.FromPretrained(output);
string[] sentences = builtIn
    ? ["The keeper saved a penalty in the final.", "Fresh bread from the oven with garlic butter.", "Heavy rain and strong wind tonight.", "The laptop crashed after the update."]
    : TabularFile.Read(evalFile ?? trainFile).Records.Take(4).Select(r => r.Fields[columns.TextColumn] ?? "").ToArray();
var batch = savedTokenizer.EncodeBatch(sentences, new EncodeOptions { Padding = PaddingStrategy.Longest, MaxLength = columns.MaxLength, Truncation = TruncationStrategy.LongestFirst });
using (no_grad())
using (var prediction = reloaded.Forward(batch.ToInputs(reloaded.Device)))
{
    var probabilities = prediction.Logits!.softmax(-1);
    for (int i = 0; i < sentences.Length; i++)
    {
        int best = (int)probabilities[i].argmax().item<long>();
        Console.WriteLine($"  {reloaded.Config.Id2Label[best],-12} {probabilities[i, best].item<float>():P0}  {sentences[i]}");
    }
}

// 6. The loss curve (training loss per logging step, held-out loss and accuracy per evaluation).
var plot = new ScottPlot.Plot();
void Curve(string key, bool rightAxis)
{
    var points = result.LogHistory.Where(e => e.Values.ContainsKey(key)).ToList();
    var line = plot.Add.Scatter(points.Select(e => (double)e.Step).ToArray(), points.Select(e => e.Values[key]).ToArray());
    line.LegendText = key;
    if (rightAxis) line.Axes.YAxis = plot.Axes.Right;
}
Curve("loss", false);
Curve("eval_loss", false);
Curve("eval_accuracy", true);
plot.Title("DebertaSharp quick start");
plot.XLabel("step");
plot.YLabel("loss");
plot.Axes.Right.Label.Text = "held-out accuracy";
plot.ShowLegend();
string png = Path.Combine(output, "loss_curve.png");
plot.SavePng(png, 800, 480);
Console.WriteLine($"model, metrics.json and {Path.GetFileName(png)} in {output}");

/// <summary>Prints a line every tenth of the run and after each evaluation.</summary>
sealed class ConsoleProgress : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.Event == TrainingEvent.Step && (p.GlobalStep % Math.Max(1, p.TotalSteps / 10) == 0 || p.GlobalStep == p.TotalSteps))
            Console.WriteLine($"step {p.GlobalStep,4}/{p.TotalSteps}  epoch {p.Epoch:F1}  loss {p.Loss:F4}  lr {p.LearningRate:E1}  {p.Elapsed.TotalSeconds:F0} s");
        else if (p.Event == TrainingEvent.Evaluated)
            Console.WriteLine($"  evaluation at step {p.GlobalStep}: loss {p.Metrics!["eval_loss"]:F4}, accuracy {p.Metrics!["eval_accuracy"]:P1}");
    }
}

/// <summary>"--name value" pairs.</summary>
sealed class Arguments(Dictionary<string, string> values)
{
    public static Arguments Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected --name value pairs, got '{args[i]}'. See the top of Program.cs.");
            values[args[i]] = args[++i];
        }
        return new Arguments(values);
    }

    public string? Get(string name) => values.GetValueOrDefault(name);
    public int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public double Double(string name, double fallback) => Get(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public MixedPrecision Precision(string name) => Get(name) switch
    {
        null or "none" => MixedPrecision.None,
        "bf16" => MixedPrecision.BFloat16,
        "fp16" => MixedPrecision.Float16,
        var v => throw new ArgumentException($"{name} takes none, bf16 or fp16, got '{v}'."),
    };
}
