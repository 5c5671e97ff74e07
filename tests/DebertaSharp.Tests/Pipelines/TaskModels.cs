using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>
/// Tiny random checkpoints (hidden 32, 2 layers) that share the v3 fixture tokenizer's vocabulary (1001 ids), one per
/// task, written once per test run into a temporary folder together with the tokenizer files.
/// Weights use initializer_range 0.3 so that predictions differ clearly between tokens and labels.
/// </summary>
internal static class TaskModels
{
    public static readonly string[] NerLabels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
    public static readonly string[] NliLabels = ["contradiction", "neutral", "entailment"];

    private static readonly string Root = Path.Combine(Path.GetTempPath(), "debertasharp-pipelines-" + Guid.NewGuid().ToString("N"));
    private static readonly Dictionary<string, string> Built = [];
    private static readonly object Gate = new();

    static TaskModels() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    };

    public static string Tokenizer => Tokenization.GoldenData.Folder("tokenizer-v3");

    /// <summary>The fixture tokenizer's v3 MLM golden model (HF weights, no EMD) with the tokenizer beside it.</summary>
    public static string GoldenMaskedLM => Get("golden-mlm", folder =>
    {
        foreach (string file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden", "deberta-v3")))
        {
            if (Path.GetFileName(file) is "config.json" or "model.safetensors")
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }
        }
    });

    public static string MaskedLMWithEmd => Get("mlm-emd", folder => Save(folder, 11, c => new DebertaForMaskedLM(c, enhancedMaskDecoder: true)));

    public static string Sentiment => Get("sentiment", folder => Save(folder, 12, c =>
    {
        c.SetLabels(["negative", "positive"]);
        return new DebertaForSequenceClassification(c);
    }));

    public static string MultiLabel => Get("multilabel", folder => Save(folder, 13, c =>
    {
        c.SetLabels(["toxic", "obscene", "insult"]);
        c.ProblemType = "multi_label_classification";
        return new DebertaForSequenceClassification(c);
    }));

    public static string Regression => Get("regression", folder => Save(folder, 14, c =>
    {
        c.SetLabels(["similarity"]);
        c.ProblemType = "regression";
        return new DebertaForSequenceClassification(c);
    }));

    public static string Nli => Get("nli", folder => Save(folder, 15, c =>
    {
        c.SetLabels(NliLabels);
        return new DebertaForSequenceClassification(c);
    }));

    /// <summary>An NLI model whose label2id puts entailment first and contradiction last.</summary>
    public static string NliEntailmentFirst => Get("nli-entail-first", folder => Save(folder, 16, c =>
    {
        c.SetLabels(["ENTAILMENT", "neutral", "CONTRADICTION"]);
        return new DebertaForSequenceClassification(c);
    }));

    public static string Ner => Get("ner", folder => Save(folder, 17, c =>
    {
        c.SetLabels(NerLabels);
        return new DebertaForTokenClassification(c);
    }));

    public static string QuestionAnswering => Get("qa", folder => Save(folder, 18, c => new DebertaForQuestionAnswering(c)));

    /// <summary>The base config of every task model: the golden v3 heads' shape with the tokenizer's vocabulary.</summary>
    public static DebertaConfig Config()
    {
        var config = DebertaConfig.FromPretrained(Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden", "deberta-v3-heads", "seqcls"));
        config.VocabSize = 1001;
        config.InitializerRange = 0.3;
        return config;
    }

    private static void Save(string folder, int seed, Func<DebertaConfig, DebertaPreTrainedModel> build)
    {
        using var model = build(Config());
        Randomize(model, seed);
        model.SavePretrained(folder);
    }

    /// <summary>
    /// Redraws every matrix of <paramref name="model"/> from N(0, initializer_range) with a generator of its own, so the
    /// weights depend on <paramref name="seed"/> alone, not on what tests running in parallel take from the global one.
    /// Vectors keep HF's initial values (biases 0, LayerNorm 1/0).
    /// </summary>
    public static void Randomize(DebertaPreTrainedModel model, int seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, parameter) in model.named_parameters())
        {
            if (parameter.dim() >= 2)
            {
                parameter.normal_(0, model.Config.InitializerRange, generator);
            }
        }
    }

    private static string Get(string name, Action<string> write)
    {
        lock (Gate)
        {
            if (Built.TryGetValue(name, out string? done))
            {
                return done;
            }

            string folder = Path.Combine(Root, name);
            Directory.CreateDirectory(folder);
            write(folder);
            CopyTokenizer(folder);
            Built[name] = folder;
            return folder;
        }
    }

    /// <summary>Copies the v3 fixture tokenizer files into <paramref name="folder"/>.</summary>
    public static void CopyTokenizer(string folder)
    {
        foreach (string file in new[] { "spm.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json" })
        {
            File.Copy(Path.Combine(Tokenizer, file), Path.Combine(folder, file), overwrite: true);
        }
    }
}
