namespace DebertaSharp.Training;

/// <summary>
/// Hyper-parameters of <see cref="AdamW"/>. Learning rate 5e-5, β₁ 0.9, β₂ 0.999 and the no-decay rule are HF
/// <c>TrainingArguments</c>' defaults; ε and weight decay are DeBERTa's (see each), not HF's.
/// </summary>
public sealed record AdamWOptions
{
    /// <summary>
    /// Base learning rate; a <see cref="LearningRateSchedule"/> scales it per step. Default 2e-5, DeBERTa's base-size
    /// fine-tuning recipes and <see cref="TrainerOptions"/>' default (so replacing the trainer's optimizer options keeps
    /// the rate); HF's <c>learning_rate</c> default is 5e-5.
    /// </summary>
    public double LearningRate { get; init; } = 2e-5;

    /// <summary>Decay of the first-moment average.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Decay of the second-moment average.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>
    /// Added to the denominator for numerical stability. Default 1e-6, the DeBERTa (and BERT) optimizer's value; HF's
    /// <c>adam_epsilon</c> default is 1e-8.
    /// </summary>
    public double Epsilon { get; init; } = 1e-6;

    /// <summary>
    /// Decoupled weight decay: each step multiplies decayed parameters by 1 − lr·decay. Default 0.01, as DeBERTa's
    /// fine-tuning recipes use; HF's <c>weight_decay</c> default is 0.
    /// </summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>
    /// Which parameters (by name) get no weight decay; defaults to <see cref="HuggingFaceNoDecay"/>.
    /// </summary>
    public Func<string, bool> NoDecay { get; init; } = HuggingFaceNoDecay;

    /// <summary>
    /// HF Trainer's rule: no decay for any parameter whose name contains <c>bias</c> (biases, <c>q_bias</c>,
    /// <c>v_bias</c>, the MLM bias) nor for LayerNorm weights (a module named <c>LayerNorm</c> / <c>layer_norm</c> /
    /// <c>layernorm</c>, any case).
    /// </summary>
    public static bool HuggingFaceNoDecay(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Contains("bias", StringComparison.Ordinal)) return true;
        var segments = name.Split('.');
        for (int i = 0; i < segments.Length - 1; i++)
        {
            string s = segments[i].Replace("_", "", StringComparison.Ordinal);
            if (s.EndsWith("layernorm", StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    /// <exception cref="TrainingException">A value outside its valid range.</exception>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new TrainingException($"AdamW learning rate must be a finite number ≥ 0, got {LearningRate}.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new TrainingException($"AdamW beta1 must be in [0, 1), got {Beta1}.");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new TrainingException($"AdamW beta2 must be in [0, 1), got {Beta2}.");
        if (!(Epsilon > 0)) throw new TrainingException($"AdamW epsilon must be > 0, got {Epsilon}.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new TrainingException($"AdamW weight decay must be a finite number ≥ 0, got {WeightDecay}.");
        ArgumentNullException.ThrowIfNull(NoDecay);
    }
}
