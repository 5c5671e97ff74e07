namespace DebertaSharp.Adapters;

/// <summary>
/// A LoRA adapter (Hu et al., arXiv:2106.09685) as PEFT's <c>LoraConfig</c> describes it: each targeted Linear
/// W gets a trainable low-rank update, y = W·x + b + scaling · B·A·dropout(x) with A [r, in] (Kaiming-uniform) and
/// B [out, r] (zeros), scaling = alpha / r (alpha / √r with rsLoRA). Base weights stay frozen.
/// </summary>
public sealed record LoraOptions
{
    /// <summary>Rank r of the update.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>alpha of scaling = alpha / r (PEFT <c>lora_alpha</c>).</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>Dropout on the adapter's input while training (PEFT <c>lora_dropout</c>).</summary>
    public double Dropout { get; init; }

    /// <summary>Scaling alpha / √r instead of alpha / r (PEFT <c>use_rslora</c>).</summary>
    public bool UseRsLora { get; init; }

    /// <summary>
    /// Module names to adapt, matched as PEFT does: a module whose full name equals an entry or ends with "." + entry.
    /// <c>null</c> (default): <c>query_proj</c>, <c>key_proj</c>, <c>value_proj</c> and the attention output and
    /// feed-forward layers (<c>output.dense</c>, <c>intermediate.dense</c>) of every encoder layer.
    /// </summary>
    public IReadOnlyList<string>? TargetModules { get; init; }

    /// <summary>
    /// Modules trained in full and saved with the adapter (PEFT <c>modules_to_save</c>), matched like
    /// <see cref="TargetModules"/>; <c>null</c> (default): the head's new layers (<c>pooler</c> and <c>classifier</c>
    /// for sequence classification and multiple choice, <c>classifier</c> for token classification, <c>qa_outputs</c>
    /// for question answering; none for the bare encoder and masked LM).
    /// </summary>
    public IReadOnlyList<string>? ModulesToSave { get; init; }

    /// <summary>The base checkpoint written to <c>adapter_config.json</c> (<c>base_model_name_or_path</c>).</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>The default targets of every DeBERTa v2/v3 encoder layer.</summary>
    public static IReadOnlyList<string> DefaultTargetModules { get; } = ["query_proj", "key_proj", "value_proj", "output.dense", "intermediate.dense"];

    /// <summary>scaling = alpha / r, or alpha / √r with <see cref="UseRsLora"/>.</summary>
    public double Scaling => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    /// <exception cref="DebertaConfigurationException">A value out of range or an empty module name.</exception>
    public void Validate()
    {
        if (Rank < 1) throw new DebertaConfigurationException($"LoRA rank must be at least 1, got {Rank}.");
        if (!double.IsFinite(Alpha) || Alpha <= 0) throw new DebertaConfigurationException($"LoRA alpha must be a finite number > 0, got {Alpha}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new DebertaConfigurationException($"LoRA dropout must be in [0, 1), got {Dropout}.");
        if (TargetModules is { Count: 0 }) throw new DebertaConfigurationException("LoRA target modules are empty; leave them unset for the defaults.");
        foreach (string name in (TargetModules ?? []).Concat(ModulesToSave ?? []))
            if (string.IsNullOrWhiteSpace(name)) throw new DebertaConfigurationException("A LoRA target module or module to save has an empty name.");
    }
}
