using System.Text.Json.Nodes;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Training;
using DebertaSharp.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Cli;

[Collection(SerialTorchRng.Name)]
public class FinetuneCommandTests
{
    private static (int Code, string Out, string Err) Run(FinetuneArguments arguments)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = FinetuneCommand.Run(arguments, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static FinetuneArguments Args(TempDir dir, string task, string train, string? eval = null) => new()
    {
        ModelDir = Directory.Exists(Path.Combine(dir.Path, "base")) ? Path.Combine(dir.Path, "base") : TinyModels.WritePretrained(Path.Combine(dir.Path, "base")),
        Task = task,
        Train = train,
        Eval = eval,
        Output = Path.Combine(dir.Path, "out"),
        MaxSteps = 3,
        BatchSize = 4,
        LearningRate = 1e-3,
        Json = true,
    };

    private static string Write(TempDir dir, string name, string text)
    {
        string path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void AUsedOutputFolderIsRefusedBeforeAnythingIsPrinted()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 8);
        Directory.CreateDirectory(Path.Combine(dir.Path, "out", "checkpoint-3"));
        File.WriteAllText(Path.Combine(dir.Path, "out", "checkpoint-3", "trainer_state.json"), "{}");
        var (code, stdout, stderr) = Run(Args(dir, "text-classification", train) with { Json = false });
        Assert.Equal(2, code);
        Assert.Equal("", stdout);                       // no model summary, no progress
        Assert.Contains("already holds checkpoints", stderr);
        Assert.Contains("--overwrite", stderr);
    }

    [Fact]
    public void TextClassificationRoundTripsToAnHfCheckpointWithMetricsAndCurve()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 16);
        string eval = TrainerTests.WriteSentiment(dir.Path, "eval.csv", 6, offset: 1);
        var (code, stdout, stderr) = Run(Args(dir, "text-classification", train, eval) with { MaxSteps = 6, EvalSteps = 3 });
        Assert.True(code == 0, stderr);

        var summary = JsonNode.Parse(stdout)!;
        string output = summary["output"]!.GetValue<string>();
        Assert.Equal(6, summary["global_step"]!.GetValue<long>());
        Assert.InRange(summary["eval"]!["eval_accuracy"]!.GetValue<double>(), 0, 1);
        Assert.True(File.Exists(Path.Combine(output, "metrics.json")));
        byte[] png = File.ReadAllBytes(summary["plot"]!.GetValue<string>());
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(png.Length > 5000, "the curve PNG is suspiciously small");

        // The output folder is a complete checkpoint: it reloads with its labels and tokenizer and classifies.
        using var model = (DebertaForSequenceClassification)AutoModel.FromPretrained(output);
        Assert.Empty(model.LoadReport!.Missing);
        Assert.Equal("granted", model.Config.Id2Label[1]);
        var tokenizer = AutoTokenizer.FromPretrained(output);
        using var _ = no_grad();
        using var result = model.Forward(tokenizer.EncodeBatch(["permission is hereby granted"], new EncodeOptions { Padding = PaddingStrategy.Longest }).ToInputs(model.Device));
        Assert.Equal(new long[] { 1, 2 }, result.Logits!.shape);
    }

    [Fact]
    public void FinetuneThenClassifyThroughTheCli()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 16);
        var (code, stdout, stderr) = Run(Args(dir, "text-classification", train) with { MaxSteps = 6 });
        Assert.True(code == 0, stderr);
        string output = JsonNode.Parse(stdout)!["output"]!.GetValue<string>();

        // `deberta classify` on the folder `deberta finetune` wrote: label names from its config, scores equal to a
        // direct forward of the reloaded model.
        string[] texts = ["permission is hereby granted", "without warranty of any kind"];
        var root = new System.CommandLine.RootCommand("test") { ClassifyCommand.Create() };
        var classifyOut = new StringWriter();
        var classifyErr = new StringWriter();
        int classifyCode = DebertaSharp.Cli.DebertaCli.Invoke(root, ["classify", "--model", output, "--top-k", "all", "--json", .. texts],
            new System.CommandLine.InvocationConfiguration { Output = classifyOut, Error = classifyErr });
        Assert.True(classifyCode == 0, classifyErr.ToString());
        var lines = classifyOut.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(texts.Length, lines.Length);

        using var model = (DebertaForSequenceClassification)AutoModel.FromPretrained(output);
        var tokenizer = AutoTokenizer.FromPretrained(output);
        using var _ = no_grad();
        model.eval();
        for (int i = 0; i < texts.Length; i++)
        {
            using var result = model.Forward(tokenizer.EncodeBatch([texts[i]], new EncodeOptions()).ToInputs(model.Device));
            float[] probs = result.Logits!.softmax(-1).data<float>().ToArray();
            var scores = lines[i]["scores"]!.AsArray();
            Assert.Equal(2, scores.Count);
            foreach (var entry in scores)
            {
                string label = entry!["label"]!.GetValue<string>();
                int id = model.Config.Label2Id[label];
                Assert.Equal(probs[id], entry["score"]!.GetValue<float>(), 1e-5);
            }
            Assert.Contains(scores[0]!["label"]!.GetValue<string>(), new[] { "granted", "disclaimed" });
        }
    }

    [Fact]
    public void ResumeContinuesFromTheNewestCheckpoint()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 16);
        var args = Args(dir, "text-classification", train) with { MaxSteps = 4, EvalSteps = 2 };
        Assert.Equal(0, Run(args).Code);
        var (code, stdout, stderr) = Run(args with { Resume = true });
        Assert.True(code == 0, stderr);
        Assert.Equal(4, JsonNode.Parse(stdout)!["global_step"]!.GetValue<long>());
        var (badCode, _, badErr) = Run(args with { Resume = true, Output = Path.Combine(dir.Path, "empty") });
        Assert.Equal(CliErrors.UserError, badCode);
        Assert.Contains("no checkpoint-<step> folder", badErr);
    }

    [Fact]
    public void CtrlCStopsWithACheckpointAndResumeFinishes()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 16);
        var args = Args(dir, "text-classification", train) with { MaxSteps = 4, Json = false };
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();                                   // as the first Ctrl+C does: stop at the next step boundary
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(FinetuneCommand.Cancelled, FinetuneCommand.Run(args, stdout, stderr, cancelled.Token));
        Assert.Contains("stopped after step 1", stderr.ToString());
        Assert.Contains("--resume", stderr.ToString());
        Assert.Equal(["checkpoint-1"], Directory.GetFileSystemEntries(args.Output).Select(Path.GetFileName));

        var (code, output, err) = Run(args with { Resume = true });
        Assert.True(code == 0, err);
        Assert.Contains("train loss", output);                // the Spectre summary
        Assert.Contains("step", output);
        Assert.True(File.Exists(Path.Combine(args.Output, "training_curve.png")));
    }

    [Fact]
    public void OtherTasksTrainEndToEnd()
    {
        using var dir = new TempDir();
        string conll = Write(dir, "ner.conll", "Permission B-GRANT\ngranted I-GRANT\nto O\nyou O\n\nNo O\nwarranty B-DISC\n");
        Assert.Equal(0, Run(Args(dir, "token-classification", conll, conll) with { Output = Path.Combine(dir.Path, "ner") }).Code);
        Assert.Equal(["B-DISC", "B-GRANT", "I-GRANT", "O"], AutoModel.FromPretrained(Path.Combine(dir.Path, "ner")).Config.Id2Label.OrderBy(k => k.Key).Select(k => k.Value));

        string squad = Write(dir, "qa.json", """
            {"data": [{"paragraphs": [{"context": "The software is provided as is, without warranty of any kind.",
              "qas": [{"id": "1", "question": "How is it provided?", "answers": [{"text": "as is", "answer_start": 25}]}]}]}]}
            """);
        var (qaCode, qaOut, qaErr) = Run(Args(dir, "question-answering", squad, squad) with { Output = Path.Combine(dir.Path, "qa"), MaxLength = 64, DocStride = 16 });
        Assert.True(qaCode == 0, qaErr);
        Assert.NotNull(JsonNode.Parse(qaOut)!["eval"]!["eval_f1"]);

        string mc = Write(dir, "mc.csv", "q,a,b,label\nThe licence,grants rights,sings,0\nWarranty,is long,is disclaimed,1\n");
        Assert.Equal(0, Run(Args(dir, "multiple-choice", mc, mc) with { Output = Path.Combine(dir.Path, "mc"), TextColumn = "q", ChoiceColumns = ["a", "b"] }).Code);

        string pairs = Write(dir, "pairs.tsv", "p\th\tlabel\nfree of charge\tno fee\t1\nno warranty\tfull warranty\t0\n");
        Assert.Equal(0, Run(Args(dir, "pair-classification", pairs, pairs) with { Output = Path.Combine(dir.Path, "pairs"), TextColumn = "p", PairColumn = "h" }).Code);

        string reg = Write(dir, "reg.jsonl", "{\"text\": \"free of charge\", \"score\": 4.5}\n{\"text\": \"no warranty\", \"score\": 0.5}\n");
        var (regCode, regOut, regErr) = Run(Args(dir, "text-classification", reg, reg) with { Output = Path.Combine(dir.Path, "reg"), LabelColumn = "score", Regression = true });
        Assert.True(regCode == 0, regErr);
        Assert.NotNull(JsonNode.Parse(regOut)!["eval"]!["eval_pearson"]);
        Assert.Equal("regression", AutoModel.FromPretrained(Path.Combine(dir.Path, "reg")).Config.ProblemType);
    }

    [Fact]
    public void RecipeKnobsAndMultiLabelDataReachTheTrainer()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 8);
        var (code, _, stderr) = Run(Args(dir, "text-classification", train) with
        {
            LayerwiseLrDecay = 0.75, HeadLearningRate = 5e-3, ClassWeights = "1, 2.5", LabelSmoothing = 0.1, EvalSteps = 3,
        });
        Assert.True(code == 0, stderr);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "out", "checkpoint-3", "trainer_state.json")))!["extra"]!["run"]!;
        Assert.Equal(0.75, run["layerwise_lr_decay"]!.GetValue<double>());
        Assert.Equal(5e-3, run["head_learning_rate"]!.GetValue<double>());
        Assert.Equal([1.0, 2.5], run["class_weights"]!.AsArray().Select(w => w!.GetValue<double>()));
        Assert.Equal(0.1, run["label_smoothing"]!.GetValue<double>());

        var (badCode, _, badErr) = Run(Args(dir, "text-classification", train) with { Output = Path.Combine(dir.Path, "bad"), ClassWeights = "1,heavy" });
        Assert.Equal(CliErrors.UserError, badCode);
        Assert.Contains("'heavy' is not a number", badErr);

        string tags = Write(dir, "tags.csv", "text,tags\nfree of charge,free\n\"copy, free of charge\",copy;free\nwithout warranty,\nyou may copy,copy\n");
        var (mlCode, mlOut, mlErr) = Run(Args(dir, "text-classification", tags, tags) with
        {
            Output = Path.Combine(dir.Path, "tags"), LabelColumn = "tags", MultiLabel = true, LabelDelimiter = ";",
        });
        Assert.True(mlCode == 0, mlErr);
        Assert.NotNull(JsonNode.Parse(mlOut)!["eval"]!["eval_f1_micro"]);
        using var model = AutoModel.FromPretrained(Path.Combine(dir.Path, "tags"));
        Assert.Equal("multi_label_classification", model.Config.ProblemType);
        Assert.Equal(["copy", "free"], model.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value));
    }

    [Fact]
    public void MixedPrecisionFlagReachesTheTrainerAndUnknownValuesExitWithTwo()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 8);
        var (code, _, stderr) = Run(Args(dir, "text-classification", train) with { MixedPrecision = "fp16", EvalSteps = 3 });
        Assert.True(code == 0, stderr);
        var extra = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "out", "checkpoint-3", "trainer_state.json")))!["extra"]!;
        Assert.Equal("Float16", extra["run"]!["mixed_precision"]!.GetValue<string>());
        Assert.NotNull(extra["grad_scaler"]!["scale"]);

        var (badCode, _, badErr) = Run(Args(dir, "text-classification", train) with { Output = Path.Combine(dir.Path, "bad"), MixedPrecision = "int8" });
        Assert.Equal(CliErrors.UserError, badCode);
        Assert.Contains("--mixed-precision must be one of none, bf16, fp16, got 'int8'", badErr);

        var parseError = new StringWriter();
        int parseCode = DebertaSharp.Cli.DebertaCli.Invoke(DebertaSharp.Cli.DebertaCli.CreateRoot(),
            ["finetune", "--model", Path.Combine(dir.Path, "base"), "--task", "text-classification", "--train", train, "--output", Path.Combine(dir.Path, "p"), "--mixed-precision", "half"],
            new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = parseError });
        Assert.Equal(CliErrors.UserError, parseCode);
        Assert.Contains("half", parseError.ToString());
    }

    [Fact]
    public void LoraRankTrainsAnAdapterThatPeftAndFromPretrainedRead()
    {
        using var dir = new TempDir();
        string train = TrainerTests.WriteSentiment(dir.Path, "train.csv", 8);
        var (code, stdout, stderr) = Run(Args(dir, "text-classification", train) with { LoraRank = 2, LoraTargets = "query_proj,value_proj" });
        Assert.True(code == 0, stderr);
        var summary = JsonNode.Parse(stdout)!;
        string output = summary["output"]!.GetValue<string>();
        var config = JsonNode.Parse(File.ReadAllText(summary["lora_adapter"]!.GetValue<string>()))!;
        Assert.Equal(2, config["r"]!.GetValue<int>());
        Assert.Equal(4.0, config["lora_alpha"]!.GetValue<double>());
        Assert.Equal(["query_proj", "value_proj"], config["target_modules"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(Path.Combine(dir.Path, "base"), config["base_model_name_or_path"]!.GetValue<string>());
        // 2 layers × 2 targets × (A [2, 32] + B [32, 2]) + pooler (32·32 + 32) + classifier (32·2 + 2)
        Assert.Equal(2 * 2 * (64 + 64) + 1056 + 66, summary["trainable_parameters"]!.GetValue<long>());

        using var merged = AutoModel.FromPretrained(output);
        Assert.Empty(merged.LoadReport!.Unexpected);
        // The base checkpoint + the adapter (its LoRA weights and the trained pooler/classifier) = the merged model.
        using var adapted = AutoModel.FromPretrained(Path.Combine(dir.Path, "base"), HeadKind.SequenceClassification);
        DebertaSharp.Adapters.Lora.LoadAdapter(adapted, output);
        var tokenizer = AutoTokenizer.FromPretrained(output);
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var inputs = tokenizer.EncodeBatch(["permission is hereby granted"], new EncodeOptions()).ToInputs(CPU);
            using var a = adapted.Forward(inputs);
            using var m = merged.Forward(inputs);
            Assert.True((a.Logits! - m.Logits!).abs().max().item<float>() <= 1e-5f);
        }
        Assert.Contains("--lora-rank", Run(Args(dir, "text-classification", train) with { Output = Path.Combine(dir.Path, "x"), LoraAlpha = 4 }).Err);
    }

    [Theory]
    [InlineData("text-classification", "d.csv", "sentence,label\na,x\nb,y\n", null, "has no column 'text'")]
    [InlineData("text-classification", "d.csv", "text,label\na,x\nb,y\n", "text,label\na,x\nb,z\n", "e.csv:3: label 'z' is not in the label set [x, y]")]
    [InlineData("text-classification", "d.csv", "", null, "is empty")]
    [InlineData("token-classification", "d.conll", "a O\nb\n", null, "d.conll:2: expected a word and a tag")]
    [InlineData("question-answering", "d.json", "{\"data\": [{\"paragraphs\": [{\"context\": \"abc\", \"qas\": [{\"id\": \"1\", \"question\": \"q\",\n \"answers\": [{\"text\": \"abc\", \"answer_start\": 2}]}]}]}]}", null, "d.json:2: answer 'abc' at answer_start 2 lies outside its context")]
    [InlineData("pair-classification", "d.csv", "text,label\na,x\nb,y\n", null, "needs --pair-column")]
    public void BadInputIsAClearUserError(string task, string name, string train, string? eval, string message)
    {
        using var dir = new TempDir();
        var (code, _, stderr) = Run(Args(dir, task, Write(dir, name, train), eval is null ? null : Write(dir, "e" + Path.GetExtension(name), eval)));
        Assert.Equal(CliErrors.UserError, code);
        Assert.Contains(message, stderr);
        Assert.StartsWith("error: ", stderr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out", "checkpoint-1")));
    }
}
