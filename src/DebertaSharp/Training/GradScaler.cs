using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// Dynamic loss scaling as <c>torch.amp.GradScaler</c> does it: the loss is multiplied by <see cref="Scale"/> before
/// backward so that small float16 gradients do not flush to zero; before clipping the gradients are divided by it
/// again (<see cref="Unscale"/>). A step whose gradients hold an inf or NaN is skipped and the scale shrinks
/// (× <see cref="GradScalerOptions.BackoffFactor"/>); after <see cref="GradScalerOptions.GrowthInterval"/> clean steps
/// in a row it grows (× <see cref="GradScalerOptions.GrowthFactor"/>).
/// </summary>
public sealed class GradScaler
{
    /// <summary>Creates a scaler at <see cref="GradScalerOptions.InitScale"/>.</summary>
    /// <exception cref="TrainingException">Bad options.</exception>
    public GradScaler(GradScalerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Scale = options.InitScale;
    }

    /// <summary>The options.</summary>
    public GradScalerOptions Options { get; }

    /// <summary>The factor the loss is multiplied by before backward.</summary>
    public double Scale { get; private set; }

    /// <summary>Clean steps in a row since the scale last changed (torch's <c>_growth_tracker</c>).</summary>
    public int GrowthTracker { get; private set; }

    /// <summary>Steps skipped so far because of inf/NaN gradients.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary><paramref name="loss"/> × <see cref="Scale"/> (in the loss's own type).</summary>
    public Tensor ScaleLoss(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        return loss * Scale;
    }

    /// <summary>
    /// Divides the gradients of <paramref name="parameters"/> by <see cref="Scale"/> in place and returns whether all
    /// of them are finite (parameters without a gradient are skipped).
    /// </summary>
    public bool Unscale(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return true;
        double inverse = 1.0 / Scale;
        foreach (var g in grads) g.mul_(inverse);
        var finite = stack(grads.Select(g => g.isfinite().all()).ToArray());          // [tensors], one flag each
        return finite.all().item<bool>();
    }

    /// <summary>
    /// Moves the scale after a step: backoff and a reset of the tracker when <paramref name="gradientsFinite"/> is
    /// false (the step was skipped), otherwise one more clean step, growing the scale when the interval is reached.
    /// </summary>
    public void Update(bool gradientsFinite)
    {
        if (!gradientsFinite)
        {
            Scale *= Options.BackoffFactor;
            GrowthTracker = 0;
            SkippedSteps++;
            return;
        }
        if (++GrowthTracker == Options.GrowthInterval)
        {
            Scale *= Options.GrowthFactor;
            GrowthTracker = 0;
        }
    }

    /// <summary>The state to save in a checkpoint (<c>scale</c>, <c>growth_tracker</c>, <c>skipped_steps</c>).</summary>
    public JsonObject ToJson() => new() { ["scale"] = Scale, ["growth_tracker"] = GrowthTracker, ["skipped_steps"] = SkippedSteps };

    /// <summary>Restores the state <see cref="ToJson"/> wrote; <paramref name="source"/> names the file in errors.</summary>
    /// <exception cref="CheckpointException">A missing or bad field.</exception>
    public void Load(JsonNode? state, string source)
    {
        if (state is not JsonObject o)
            throw new CheckpointException($"{source}: the float16 run's loss-scaler state ('grad_scaler') is missing.");
        static T Field<T>(JsonObject o, string key, string source) =>
            o[key] is JsonValue v && v.TryGetValue<T>(out var value) ? value
                : throw new CheckpointException($"{source}: grad_scaler.{key} must be a number, got {o[key]?.ToJsonString() ?? "nothing"}.");
        double scale = Field<double>(o, "scale", source);
        int tracker = Field<int>(o, "growth_tracker", source);
        long skipped = Field<long>(o, "skipped_steps", source);
        if (!(scale > 0) || double.IsInfinity(scale) || tracker < 0 || tracker >= Options.GrowthInterval || skipped < 0)
            throw new CheckpointException($"{source}: grad_scaler {o.ToJsonString()} is out of range (growth interval {Options.GrowthInterval}).");
        Scale = scale;
        GrowthTracker = tracker;
        SkippedSteps = skipped;
    }
}
