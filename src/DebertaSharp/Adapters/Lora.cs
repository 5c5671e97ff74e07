using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.IO;
using DebertaSharp.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Adapters;

/// <summary>
/// LoRA on any DebertaSharp model, in the format Python's <c>peft</c> reads and writes: apply an adapter
/// (<see cref="Apply"/>), save and load it as <c>adapter_config.json</c> + <c>adapter_model.safetensors</c>
/// (<see cref="SaveAdapter"/>, <see cref="LoadAdapter"/>), and merge it into the base weights (<see cref="MergeAndUnload"/>).
/// </summary>
/// <remarks>
/// PEFT's keys: <c>base_model.model.&lt;module&gt;.lora_A.weight</c> / <c>.lora_B.weight</c> for each adapted Linear, and
/// <c>base_model.model.&lt;module&gt;.&lt;parameter&gt;</c> for the modules to save (PEFT strips its
/// <c>modules_to_save.default</c> infix on save and puts it back on load).
/// </remarks>
public static class Lora
{
    /// <summary>PEFT's adapter configuration file.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>PEFT's adapter weights file.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    private const string KeyPrefix = "base_model.model.";

    /// <summary>
    /// Adds a LoRA adapter to <paramref name="model"/>: every targeted Linear is replaced, under the same name, by a
    /// <see cref="LoraLinear"/> sharing its weights; every parameter is frozen except the adapters and the modules to save.
    /// </summary>
    /// <returns>The names of the adapted modules.</returns>
    /// <exception cref="DebertaConfigurationException">Bad options, the model already has an adapter, a target that is not a
    /// Linear or cannot be replaced, a target inside a module to save, or a name that matches nothing.</exception>
    public static IReadOnlyList<string> Apply(DebertaPreTrainedModel model, LoraOptions options) => ApplyCore(model, options, strictModulesToSave: true);

    // strictModulesToSave false: as PEFT, names that match no module are skipped (PEFT adds "classifier" and "score" for SEQ_CLS).
    private static IReadOnlyList<string> ApplyCore(DebertaPreTrainedModel model, LoraOptions options, bool strictModulesToSave)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (Adapted(model).Any()) throw new DebertaConfigurationException($"The {model.ArchitectureName} already has a LoRA adapter; merge or reload it first.");
        model.Unfreeze();                                                          // adapters replace dense layers, and train
        var targets = TargetsOf(model, options);
        var keep = ModulesToSaveOf(model, options);
        var modules = model.named_modules().ToList();
        var matched = modules.Where(m => m.name.Length > 0 && Matches(m.name, targets)).ToList();
        if (matched.Count == 0)
            throw new DebertaConfigurationException($"No module of the {model.ArchitectureName} matches the LoRA target modules [{string.Join(", ", targets)}].");
        var saved = modules.Where(m => m.name.Length > 0 && Matches(m.name, keep)).Select(m => m.name).ToList();
        foreach (string name in strictModulesToSave ? keep : [])
            if (!saved.Any(s => s == name || s.EndsWith("." + name, StringComparison.Ordinal)))
                throw new DebertaConfigurationException($"No module of the {model.ArchitectureName} is named '{name}' (LoRA modules to save).");

        var adapted = new List<string>();
        foreach (var (name, module) in matched)
        {
            if (saved.Any(s => name.StartsWith(s + ".", StringComparison.Ordinal)))
                throw new DebertaConfigurationException($"LoRA target '{name}' lies inside the module to save '{saved.First(s => name.StartsWith(s + ".", StringComparison.Ordinal))}'; a module is either adapted or trained in full.");
            if (module is not Linear linear)
                throw new DebertaConfigurationException($"LoRA target '{name}' is a {module.GetType().Name}; only Linear layers can be adapted.");
            Replace(model, name, new LoraLinear(linear, options));
            adapted.Add(name);
        }

        foreach (var (name, parameter) in model.named_parameters())
        {
            bool trainable = name.Contains(".lora_A.", StringComparison.Ordinal) || name.Contains(".lora_B.", StringComparison.Ordinal) ||
                             saved.Any(s => name.StartsWith(s + ".", StringComparison.Ordinal));
            parameter.requires_grad = trainable;
        }

        model.LoraOptions = options with { TargetModules = targets, ModulesToSave = keep };
        return adapted;
    }

    /// <summary>The adapted modules of <paramref name="model"/> by full name.</summary>
    public static IEnumerable<(string Name, LoraLinear Module)> Adapted(DebertaPreTrainedModel model) =>
        model.named_modules().Where(m => m.module is LoraLinear).Select(m => (m.name, (LoraLinear)m.module));

    /// <summary>Trainable and total parameter counts (elements) of <paramref name="model"/>.</summary>
    public static (long Trainable, long Total) ParameterCounts(DebertaPreTrainedModel model)
    {
        long trainable = 0, total = 0;
        foreach (var p in model.parameters())
        {
            total += p.numel();
            if (p.requires_grad) trainable += p.numel();
        }
        return (trainable, total);
    }

    /// <summary>
    /// Writes the adapter of <paramref name="model"/> into <paramref name="folder"/> as PEFT does:
    /// <c>adapter_config.json</c> and <c>adapter_model.safetensors</c> (float32 as the model holds them), each atomically.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">The model has no adapter.</exception>
    public static void SaveAdapter(DebertaPreTrainedModel model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var options = model.LoraOptions ?? throw new DebertaConfigurationException($"The {model.ArchitectureName} has no LoRA adapter to save.");
        Directory.CreateDirectory(folder);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, module) in Adapted(model))
        {
            tensors.Add(new(KeyPrefix + name + ".lora_A.weight", module.LoraA));
            tensors.Add(new(KeyPrefix + name + ".lora_B.weight", module.LoraB));
        }
        foreach (var (name, tensor) in ModulesToSaveState(model, options)) tensors.Add(new(KeyPrefix + name, tensor));
        SafetensorsWriter.Save(Path.Combine(folder, WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), ConfigJson(model, options));
    }

    /// <summary>
    /// Applies the adapter saved in <paramref name="folder"/> (by PEFT or <see cref="SaveAdapter"/>) to <paramref name="model"/>
    /// and loads its weights.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">A bad or unsupported <c>adapter_config.json</c> (not LoRA, DoRA, biases, fan-in-fan-out …).</exception>
    /// <exception cref="CheckpointException">A missing, unexpected or mis-shaped tensor (named).</exception>
    public static LoraOptions LoadAdapter(DebertaPreTrainedModel model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var options = ReadConfig(Path.Combine(folder, ConfigFileName));
        ApplyCore(model, options, strictModulesToSave: false);
        string path = Path.Combine(folder, WeightsFileName);
        if (!File.Exists(path)) throw new CheckpointException($"'{path}' does not exist: the adapter folder has no weights.");
        using var file = SafetensorsFile.Open(path);
        var expected = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, module) in Adapted(model))
        {
            expected[KeyPrefix + name + ".lora_A.weight"] = module.LoraA;
            expected[KeyPrefix + name + ".lora_B.weight"] = module.LoraB;
        }
        foreach (var (name, tensor) in ModulesToSaveState(model, model.LoraOptions!)) expected[KeyPrefix + name] = tensor;
        var names = file.Entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var missing = expected.Keys.Where(k => !names.Contains(k)).ToList();
        var unexpected = names.Where(k => !expected.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointException($"'{path}' does not fit the adapter of {ConfigFileName}: " +
                $"{(missing.Count > 0 ? $"missing {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" (+{missing.Count - 5})" : "")}" : "")}" +
                $"{(missing.Count > 0 && unexpected.Count > 0 ? "; " : "")}" +
                $"{(unexpected.Count > 0 ? $"unexpected {string.Join(", ", unexpected.Take(5))}{(unexpected.Count > 5 ? $" (+{unexpected.Count - 5})" : "")}" : "")}.");
        using (no_grad())
        {
            foreach (var (key, target) in expected)
            {
                using var value = file.Read(key);
                if (!value.shape.SequenceEqual(target.shape))
                    throw new CheckpointException($"'{path}': '{key}' has shape {Shapes.Format(value.shape)} but the model expects {Shapes.Format(target.shape)}.");
                target.copy_(value);
            }
        }
        return model.LoraOptions!;
    }

    /// <summary>
    /// Adds each adapter's scaling·B·A into its base weight and puts plain Linear layers back: the model is then an
    /// ordinary checkpoint (<see cref="DebertaPreTrainedModel.SavePretrained"/> writes what HF's <c>from_pretrained</c> reads)
    /// with every parameter trainable again.
    /// </summary>
    /// <exception cref="DebertaConfigurationException">The model has no adapter.</exception>
    public static DebertaPreTrainedModel MergeAndUnload(DebertaPreTrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.LoraOptions is null) throw new DebertaConfigurationException($"The {model.ArchitectureName} has no LoRA adapter to merge.");
        model.Unfreeze();                                                          // merging writes the base weights
        foreach (var (name, module) in Adapted(model).ToList())
        {
            using (no_grad())
            using (var delta = module.Delta())
                module.Weight.add_(delta);
            Replace(model, name, Unwrapped(module));
            module.DisposeAdapter();                     // not the wrapper: the new Linear holds its weight and bias
        }
        foreach (var p in model.parameters()) p.requires_grad = true;
        model.LoraOptions = null;
        return model;
    }

    /// <summary>
    /// Writes what merging would give (config.json + model.safetensors, HF layout) into <paramref name="folder"/>
    /// without changing <paramref name="model"/>: its adapter stays applied and its base weights are restored bit for bit.
    /// </summary>
    public static void SaveMerged(DebertaPreTrainedModel model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var adapted = Adapted(model).ToList();
        var originals = new List<Tensor>();
        try
        {
            using (no_grad())
            {
                foreach (var (name, module) in adapted)
                {
                    originals.Add(module.Weight.detach().clone());
                    using var delta = module.Delta();
                    module.Weight.add_(delta);
                    Replace(model, name, Unwrapped(module));
                }
            }
            model.SavePretrained(folder);
        }
        finally
        {
            using (no_grad())
            {
                for (int i = 0; i < originals.Count; i++)
                {
                    var (name, module) = adapted[i];
                    module.Weight.copy_(originals[i]);
                    Replace(model, name, module);
                    originals[i].Dispose();
                }
            }
        }
    }

    // A plain Linear over the wrapper's own weight and bias (the same parameters, so nothing is copied).
    private static Linear Unwrapped(LoraLinear module)
    {
        var linear = nn.Linear(module.Weight.shape[1], module.Weight.shape[0], hasBias: module.Bias is not null, device: module.Weight.device, dtype: module.Weight.dtype);
        linear.weight = module.Weight;
        if (module.Bias is not null) linear.bias = module.Bias;
        return linear;
    }

    // Puts `replacement` where the module `name` is: the registered submodule and the field the parent's forward uses.
    private static void Replace(DebertaPreTrainedModel model, string name, nn.Module<Tensor, Tensor> replacement)
    {
        int dot = name.LastIndexOf('.');
        string parentName = dot < 0 ? "" : name[..dot], local = name[(dot + 1)..];
        var parent = parentName.Length == 0 ? model : model.named_modules().First(m => m.name == parentName).module;
        var field = parent.GetType().GetField(local, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
        if (field is null || !field.FieldType.IsAssignableFrom(replacement.GetType()))
            throw new DebertaConfigurationException(
                $"LoRA cannot adapt '{name}': {parent.GetType().Name} holds it {(field is null ? "under another name" : $"as a {field.FieldType.Name}")}, not as a replaceable module.");
        field.SetValue(parent, replacement);
        // register_module refuses a taken name and unregistering disposes the old module (whose weights the
        // replacement shares), so the entry is swapped in the registry itself, keeping the module order.
        var registry = (TorchSharp.Utils.OrderedDict<string, nn.Module>)SubmodulesField.GetValue(parent)!;
        registry[local] = replacement;
    }

    private static readonly FieldInfo SubmodulesField =
        typeof(nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new MissingFieldException("TorchSharp's nn.Module no longer has _internal_submodules; LoRA needs it to swap a submodule.");

    private static bool Matches(string name, IReadOnlyList<string> targets) =>
        targets.Any(t => name == t || name.EndsWith("." + t, StringComparison.Ordinal));

    private static IReadOnlyList<string> TargetsOf(DebertaPreTrainedModel model, LoraOptions options) =>
        options.TargetModules ?? (model.Config.ModelType == Configuration.DebertaModelType.Deberta
            ? throw new DebertaConfigurationException("DeBERTa v1 fuses q/k/v in 'in_proj' (its weight is split by the attention): give LoRA target modules explicitly, e.g. output.dense and intermediate.dense.")
            : LoraOptions.DefaultTargetModules);

    private static IReadOnlyList<string> ModulesToSaveOf(DebertaPreTrainedModel model, LoraOptions options) =>
        options.ModulesToSave ?? model.Head switch
        {
            HeadKind.SequenceClassification or HeadKind.MultipleChoice => ["pooler", "classifier"],
            HeadKind.TokenClassification => ["classifier"],
            HeadKind.QuestionAnswering => ["qa_outputs"],
            _ => [],
        };

    // The state of the modules to save (every tensor under a module matching a name), by full HF key.
    private static IEnumerable<(string Name, Tensor Tensor)> ModulesToSaveState(DebertaPreTrainedModel model, LoraOptions options)
    {
        var keep = options.ModulesToSave ?? [];
        var saved = model.named_modules().Where(m => m.name.Length > 0 && Matches(m.name, keep)).Select(m => m.name + ".").ToList();
        foreach (var (name, tensor) in model.state_dict())
            if (saved.Any(s => name.StartsWith(s, StringComparison.Ordinal)))
                yield return (name, tensor);
    }

    private static string TaskType(HeadKind head) => head switch
    {
        HeadKind.SequenceClassification => "SEQ_CLS",
        HeadKind.TokenClassification => "TOKEN_CLS",
        HeadKind.QuestionAnswering => "QUESTION_ANS",
        HeadKind.Base => "FEATURE_EXTRACTION",
        _ => "",
    };

    private static string ConfigJson(DebertaPreTrainedModel model, LoraOptions options)
    {
        string task = TaskType(model.Head);
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = task.Length == 0 ? null : task,
            ["base_model_name_or_path"] = options.BaseModelNameOrPath,
            ["r"] = options.Rank,
            ["lora_alpha"] = options.Alpha,
            ["lora_dropout"] = options.Dropout,
            ["use_rslora"] = options.UseRsLora,
            ["target_modules"] = new JsonArray([.. options.TargetModules!.Select(t => (JsonNode?)t)]),
            ["modules_to_save"] = options.ModulesToSave is { Count: > 0 } keep ? new JsonArray([.. keep.Select(t => (JsonNode?)t)]) : null,
            ["fan_in_fan_out"] = false,
            ["bias"] = "none",
            ["init_lora_weights"] = true,
            ["inference_mode"] = true,
            ["use_dora"] = false,
            ["layers_to_transform"] = null,
            ["layers_pattern"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["revision"] = null,
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Reads a PEFT <c>adapter_config.json</c>, refusing what this implementation does not compute.</summary>
    /// <exception cref="DebertaConfigurationException">A missing or bad file, or an unsupported setting (named).</exception>
    public static LoraOptions ReadConfig(string path)
    {
        StrictJson.ErrorFactory error = (message, inner) => new DebertaConfigurationException(message, inner);
        JsonObject root = StrictJson.ParseNode(StrictJson.ReadFile(path, DebertaConfig.MaxConfigBytes, error), path, error) as JsonObject
            ?? throw new DebertaConfigurationException($"'{path}' must hold a JSON object.");

        string? Text(string key) => root[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        bool Flag(string key) => root[key] is JsonValue v && v.TryGetValue(out bool b) && b;
        double Number(string key, double fallback) => root[key] is JsonValue v && v.TryGetValue(out double d) ? d : fallback;
        List<string>? Names(string key) => root[key] switch
        {
            null => null,
            JsonArray a => [.. a.Select(n => n is JsonValue v && v.TryGetValue(out string? s) ? s : throw new DebertaConfigurationException($"'{path}': \"{key}\" must list module names."))],
            JsonValue v when v.TryGetValue(out string? s) => throw new DebertaConfigurationException($"'{path}': \"{key}\" is the pattern '{s}'; DebertaSharp reads a list of module names."),
            _ => throw new DebertaConfigurationException($"'{path}': \"{key}\" must list module names."),
        };

        if (Text("peft_type") != "LORA") throw new DebertaConfigurationException($"'{path}': peft_type is '{Text("peft_type")}'; only LORA adapters are supported.");
        if (Flag("fan_in_fan_out")) throw new DebertaConfigurationException($"'{path}': fan_in_fan_out is true (Conv1D weights); DeBERTa's Linear layers need false.");
        if (Text("bias") is { } bias && bias != "none") throw new DebertaConfigurationException($"'{path}': bias is '{bias}'; only \"none\" is supported.");
        if (Flag("use_dora")) throw new DebertaConfigurationException($"'{path}': use_dora is true; DoRA is not supported.");
        foreach (string key in new[] { "rank_pattern", "alpha_pattern" })
            if (root[key] is JsonObject o && o.Count > 0) throw new DebertaConfigurationException($"'{path}': {key} is set; per-module ranks are not supported.");
        if (root["layers_to_transform"] is not null) throw new DebertaConfigurationException($"'{path}': layers_to_transform is set; adapters on some layers only are not supported.");
        double rank = Number("r", double.NaN);
        if (!(rank >= 1) || rank != Math.Floor(rank)) throw new DebertaConfigurationException($"'{path}': r must be a whole number ≥ 1, got {root["r"]?.ToJsonString() ?? "nothing"}.");
        var options = new LoraOptions
        {
            Rank = (int)rank,
            Alpha = Number("lora_alpha", 8),
            Dropout = Number("lora_dropout", 0),
            UseRsLora = Flag("use_rslora"),
            TargetModules = Names("target_modules") ?? throw new DebertaConfigurationException($"'{path}' has no target_modules."),
            ModulesToSave = Names("modules_to_save") ?? [],
            BaseModelNameOrPath = Text("base_model_name_or_path"),
        };
        options.Validate();
        return options;
    }
}
