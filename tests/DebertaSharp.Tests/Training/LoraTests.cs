using System.Text.Json.Nodes;
using DebertaSharp.Adapters;
using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tests.Pipelines;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

/// <summary>LoRA adapters: PEFT's file layout, save → load identity, merge equals the adapted forward, training touches only the adapter.</summary>
[Collection(SerialTorchRng.Name)]
public class LoraTests
{
    private static readonly LoraOptions Options = new() { Rank = 4, Alpha = 8 };

    private static DebertaInputs Inputs(DebertaPreTrainedModel model)
    {
        var tokenizer = AutoTokenizer.FromPretrained(TaskModels.Sentiment);
        return tokenizer.EncodeBatch(["Permission is hereby granted.", "No warranty of any kind."], new EncodeOptions { Padding = PaddingStrategy.Longest })
            .ToInputs(model.Device);
    }

    private static float[] Logits(DebertaPreTrainedModel model)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        model.eval();
        using var output = model.Forward(Inputs(model));
        return output.Logits!.data<float>().ToArray();
    }

    // Gives every lora_B a random value (it starts at zero, so the adapter would do nothing).
    private static void Perturb(DebertaPreTrainedModel model, int seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, module) in Lora.Adapted(model)) module.LoraB.normal_(0, 0.2, generator);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        double tolerance = 1e-5 * Math.Max(1, expected.Max(Math.Abs));
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void ApplyingWrapsTheTargetsUnderTheirNamesAndFreezesTheRest()
    {
        using var model = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment);
        float[] before = Logits(model);
        var baseKeys = model.state_dict().Keys.ToHashSet();
        var adapted = Lora.Apply(model, Options);
        // 2 layers × (query, key, value, attention output, intermediate, output)
        Assert.Equal(12, adapted.Count);
        Assert.Contains("deberta.encoder.layer.1.attention.self.query_proj", adapted);
        Assert.Contains("deberta.encoder.layer.0.attention.output.dense", adapted);
        Assert.DoesNotContain("pooler.dense", adapted);

        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Subset(keys, baseKeys);                            // base keys unchanged: …query_proj.weight
        Assert.Equal(24, keys.Except(baseKeys).Count());
        Assert.Contains("deberta.encoder.layer.0.attention.self.query_proj.lora_A.weight", keys);
        Assert.All(model.named_parameters().Where(p => p.parameter.requires_grad),
            p => Assert.True(p.name.Contains(".lora_", StringComparison.Ordinal) || p.name.StartsWith("pooler.", StringComparison.Ordinal) || p.name.StartsWith("classifier.", StringComparison.Ordinal), p.name));
        var (trainable, total) = Lora.ParameterCounts(model);
        long h = model.Config.HiddenSize, i = model.Config.IntermediateSize;
        long expected = 4 * 4 * (h + h) + 2 * 4 * (h + i)            // per layer A [4, in] + B [out, 4]: q, k, v, attention output; intermediate, output
                        + 4 * 4 * (h + h) + 2 * 4 * (h + i)
                        + (h * h + h) + (h * 2 + 2);                 // pooler.dense, classifier in full
        Assert.Equal(expected, trainable);
        Assert.True(total > 10 * trainable);

        Assert.Equal(before, Logits(model));                       // B = 0: the adapter changes nothing yet
        Assert.Throws<DebertaConfigurationException>(() => Lora.Apply(model, Options));
    }

    [Fact]
    public void MergingEqualsTheAdaptedForwardAndAHandMadeMerge()
    {
        using var adaptedModel = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment);
        Lora.Apply(adaptedModel, Options with { UseRsLora = true });
        Perturb(adaptedModel, 3);
        float[] adapted = Logits(adaptedModel);

        // The same merge by hand: W += (alpha / √r)·B·A on a fresh copy of the base model.
        using var byHand = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment);
        var state = byHand.state_dict();
        var adaptedState = adaptedModel.state_dict();
        using (no_grad())
        {
            foreach (var (name, _) in Lora.Adapted(adaptedModel))
            {
                using var delta = adaptedState[name + ".lora_B.weight"].matmul(adaptedState[name + ".lora_A.weight"]) * (8 / Math.Sqrt(4));
                state[name + ".weight"].add_(delta);
            }
            foreach (var key in adaptedState.Keys.Where(k => k.StartsWith("pooler.", StringComparison.Ordinal) || k.StartsWith("classifier.", StringComparison.Ordinal)))
                state[key].copy_(adaptedState[key]);
        }
        AssertClose(Logits(byHand), adapted);
        Assert.NotEqual(Logits(DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment)), adapted);

        using var dir = new TempDir();
        Lora.SaveMerged(adaptedModel, Path.Combine(dir.Path, "merged"));         // leaves the adapter in place
        Assert.Equal(adapted, Logits(adaptedModel));
        Lora.MergeAndUnload(adaptedModel);
        Assert.Empty(Lora.Adapted(adaptedModel));
        Assert.Null(adaptedModel.LoraOptions);
        AssertClose(adapted, Logits(adaptedModel));
        adaptedModel.SavePretrained(Path.Combine(dir.Path, "unloaded"));
        foreach (string folder in new[] { "merged", "unloaded" })
        {
            using var reloaded = (DebertaForSequenceClassification)AutoModel.FromPretrained(Path.Combine(dir.Path, folder));
            Assert.Empty(reloaded.LoadReport!.Missing);
            Assert.Empty(reloaded.LoadReport.Unexpected);
            AssertClose(adapted, Logits(reloaded));
        }
    }

    [Fact]
    public void AnAdapterSavedInPeftsLayoutLoadsBackToIdenticalOutputs()
    {
        using var dir = new TempDir();
        using var model = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment);
        Lora.Apply(model, Options with { Dropout = 0.1, BaseModelNameOrPath = "microsoft/deberta-v3-base" });
        Perturb(model, 4);
        float[] adapted = Logits(model);
        Lora.SaveAdapter(model, dir.Path);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("SEQ_CLS", config["task_type"]!.GetValue<string>());
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(8.0, config["lora_alpha"]!.GetValue<double>());
        Assert.Equal(0.1, config["lora_dropout"]!.GetValue<double>());
        Assert.Equal("none", config["bias"]!.GetValue<string>());
        Assert.False(config["fan_in_fan_out"]!.GetValue<bool>());
        Assert.Equal("microsoft/deberta-v3-base", config["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(LoraOptions.DefaultTargetModules, config["target_modules"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(["pooler", "classifier"], config["modules_to_save"]!.AsArray().Select(t => t!.GetValue<string>()));

        using (var file = SafetensorsFile.Open(Path.Combine(dir.Path, "adapter_model.safetensors")))
        {
            var names = file.Entries.Select(e => e.Name).ToHashSet();
            Assert.Equal(24 + 4, names.Count);
            Assert.Equal([4L, 32], file.GetEntry("base_model.model.deberta.encoder.layer.0.attention.self.query_proj.lora_A.weight").Shape);
            Assert.Equal([(long)model.Config.IntermediateSize, 4], file.GetEntry("base_model.model.deberta.encoder.layer.1.intermediate.dense.lora_B.weight").Shape);
            Assert.Contains("base_model.model.classifier.weight", names);             // modules_to_save without PEFT's wrapper infix
            Assert.Contains("base_model.model.pooler.dense.bias", names);
            Assert.DoesNotContain(names, n => n.Contains("modules_to_save", StringComparison.Ordinal) || n.Contains(".default.", StringComparison.Ordinal));
        }

        using var fresh = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment);
        var loaded = Lora.LoadAdapter(fresh, dir.Path);
        Assert.Equal(0.1, loaded.Dropout);
        Assert.Equal(adapted, Logits(fresh));                                          // bit-identical

        // PEFT writes "score" beside "classifier" for SEQ_CLS; a name that matches no module is skipped, as PEFT does.
        config["modules_to_save"] = new JsonArray("pooler", "classifier", "score");
        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), config.ToJsonString());
        using (var peftWritten = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment))
        {
            Lora.LoadAdapter(peftWritten, dir.Path);
            Assert.Equal(adapted, Logits(peftWritten));
        }

        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), config.ToJsonString().Replace("\"use_dora\":false", "\"use_dora\":true"));
        using var other = DebertaForSequenceClassification.FromPretrained(TaskModels.Sentiment);
        Assert.Contains("use_dora", Assert.Throws<DebertaConfigurationException>(() => Lora.LoadAdapter(other, dir.Path)).Message);
    }

    [Fact]
    public void TheTrainerTrainsOnlyTheAdapterAndWritesAdapterAndMergedModel()
    {
        using var dir = new TempDir();
        var tokenizer = DatasetTests.Tokenizer();
        var train = TextClassificationDataset.Load(TrainerTests.WriteSentiment(dir.Path, "train.csv", 16), tokenizer, new TextClassificationDatasetOptions());
        var config = TinyModels.V3(vocabSize: tokenizer.VocabularySize, dropout: 0);
        train.ConfigureModel(config);
        TrainingSeed.Set(9);
        using var model = new DebertaForSequenceClassification(config);
        Lora.Apply(model, Options);
        var frozen = model.named_parameters().Where(p => !p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var result = new Trainer(model, train, null, new TrainerOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "out"),
            MaxSteps = 4,
            BatchSize = 4,
            Optimizer = new AdamWOptions { LearningRate = 1e-2 },
            Tokenizer = DebertaSharp.Tokenization.AutoTokenizer.FromPretrained(DebertaSharp.Tests.Tokenization.GoldenData.Folder("tokenizer-v3")),
        }).Train();
        var now = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(frozen, p => Assert.True(p.Value.eq(now[p.Key]).all().item<bool>(), $"{p.Key} changed"));
        Assert.Contains(Lora.Adapted(model), m => m.Module.LoraB.abs().sum().item<float>() > 0);

        string output = result.OutputDirectory;
        Assert.True(File.Exists(Path.Combine(output, "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(output, "checkpoint-4", "adapter_model.safetensors")));
        using var merged = (DebertaForSequenceClassification)AutoModel.FromPretrained(output);
        Assert.Empty(merged.LoadReport!.Unexpected);                                   // a plain HF checkpoint: no lora keys
        AssertClose(Logits(model), Logits(merged));
    }
}
