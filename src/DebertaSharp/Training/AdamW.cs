using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter), computed exactly as <c>torch.optim.AdamW</c>:
/// p ← p·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
/// Unlike TorchSharp's optimizer it knows parameter names, so its state is saved and restored by name
/// (<see cref="StateDict"/> / <see cref="LoadStateDict"/>) and the no-decay rule works on HF names.
/// Parameters that must not be trained are simply not given to it. Each step runs libtorch's fused AdamW kernel (the
/// one <c>torch.optim.AdamW(fused=True)</c> uses), one sweep per group of parameters sharing rate factor and decay.
/// </summary>
/// <remarks>
/// The state tensors live outside any dispose scope and are freed by <see cref="Dispose"/>. The step count is one
/// for the whole optimizer: a parameter without a gradient in a step is skipped (no decay, no moment update), as
/// torch does, but bias correction uses the optimizer's count.
/// </remarks>
public sealed class AdamW : IDisposable
{
    private readonly Slot[] _slots;
    private bool _disposed;

    private sealed record Slot(string Name, Parameter Parameter, bool Decay, double Scale, Tensor ExpAvg, Tensor ExpAvgSq);

    /// <summary>Creates the optimizer over named parameters (e.g. <c>model.named_parameters()</c>).</summary>
    /// <exception cref="TrainingException">No parameters, a name given twice, the same parameter under two names, or bad options.</exception>
    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, AdamWOptions options) : this(parameters, options, null) { }

    /// <summary>
    /// Creates the optimizer over named parameters, each with its own learning-rate factor (torch's parameter groups):
    /// parameter <c>p</c> is updated with <see cref="LearningRate"/> × <paramref name="learningRateScale"/>(name of p),
    /// weight decay included.
    /// </summary>
    /// <param name="parameters">The named parameters.</param>
    /// <param name="options">The hyper-parameters.</param>
    /// <param name="learningRateScale">The factor of each parameter by name (finite, ≥ 0); <c>null</c> gives every parameter 1.</param>
    /// <exception cref="TrainingException">No parameters, a name given twice, the same parameter under two names, a bad factor, or bad options.</exception>
    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, AdamWOptions options, Func<string, double>? learningRateScale)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        LearningRate = options.LearningRate;
        var names = new HashSet<string>(StringComparer.Ordinal);
        var handles = new Dictionary<IntPtr, string>();
        var slots = new List<Slot>();
        foreach (var (name, parameter) in parameters)
        {
            ArgumentNullException.ThrowIfNull(parameter, name);
            if (string.IsNullOrEmpty(name)) throw new TrainingException("AdamW: a parameter has an empty name.");
            if (!names.Add(name)) throw new TrainingException($"AdamW: parameter '{name}' is given twice.");
            if (handles.TryGetValue(parameter.Handle, out var other))
                throw new TrainingException($"AdamW: '{name}' and '{other}' are the same parameter; give it once.");
            handles[parameter.Handle] = name;
            double scale = learningRateScale?.Invoke(name) ?? 1.0;
            if (!(scale >= 0) || double.IsInfinity(scale))
                throw new TrainingException($"AdamW: the learning-rate factor of '{name}' must be a finite number ≥ 0, got {scale}.");
            // State is made outside any caller's dispose scope so that it lives as long as the optimizer.
            var m = zeros_like(parameter).DetachFromDisposeScope();
            var v = zeros_like(parameter).DetachFromDisposeScope();
            slots.Add(new Slot(name, parameter, !options.NoDecay(name), scale, m, v));
        }
        if (slots.Count == 0) throw new TrainingException("AdamW: no parameters to optimise.");
        _slots = [.. slots];
    }

    /// <summary>The options this optimizer was made with; <see cref="AdamWOptions.LearningRate"/> is the base rate.</summary>
    public AdamWOptions Options { get; }

    /// <summary>The learning rate the next <see cref="Step"/> uses (a schedule sets it before each step).</summary>
    public double LearningRate { get; set; }

    /// <summary>Steps taken so far (t of the bias corrections).</summary>
    public long StepCount { get; private set; }

    /// <summary>Parameter names in the order given.</summary>
    public IReadOnlyList<string> ParameterNames => _slots.Select(s => s.Name).ToArray();

    /// <summary>Names of the parameters that get weight decay.</summary>
    public IReadOnlyList<string> DecayedParameterNames => _slots.Where(s => s.Decay).Select(s => s.Name).ToArray();

    /// <summary>
    /// The parameters grouped as torch's <c>param_groups</c> would hold them: one group per (learning-rate factor, weight
    /// decay) pair, in order of first appearance; a group's learning rate is <see cref="LearningRate"/> × its factor.
    /// </summary>
    public IReadOnlyList<AdamWParameterGroup> ParameterGroups =>
        _slots.GroupBy(s => (s.Scale, s.Decay))
            .Select(g => new AdamWParameterGroup(g.Key.Scale, g.Key.Decay ? Options.WeightDecay : 0, g.Select(s => s.Name).ToArray()))
            .ToArray();

    /// <summary>The learning rate the next <see cref="Step"/> gives parameter <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such parameter in this optimizer.</exception>
    public double LearningRateOf(string name) =>
        LearningRate * (_slots.FirstOrDefault(s => s.Name == name) ?? throw new KeyNotFoundException($"AdamW has no parameter '{name}'.")).Scale;

    /// <summary>The parameters, in the order given (for gradient clipping).</summary>
    public IEnumerable<Parameter> Parameters => _slots.Select(s => s.Parameter);

    /// <summary>Applies one update to every parameter that has a gradient, then counts the step.</summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        double lr = LearningRate, b1 = Options.Beta1, b2 = Options.Beta2, eps = Options.Epsilon, wd = Options.WeightDecay;
        long t = StepCount + 1;
        using (no_grad())
        {
            using var scope = NewDisposeScope();                                             // the .grad handles below
            // One fused sweep per group of parameters that share learning rate, decay, device and dtype.
            var groups = _slots.Where(s => s.Parameter.grad is not null)
                .GroupBy(s => (s.Scale, s.Decay, Device: s.Parameter.device.ToString(), s.Parameter.dtype));
            foreach (var group in groups)
            {
                var slots = group.ToArray();
                FusedAdamW.Step([.. slots.Select(s => (Tensor)s.Parameter)], [.. slots.Select(s => s.Parameter.grad!.contiguous())],
                    [.. slots.Select(s => s.ExpAvg)], [.. slots.Select(s => s.ExpAvgSq)], t,
                    lr * group.Key.Scale, b1, b2, group.Key.Decay ? wd : 0, eps);
            }
        }
        StepCount = t;
    }

    /// <summary>Clears the gradients of every parameter (sets them to none, as torch does by default).</summary>
    public void ZeroGrad()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var slot in _slots) slot.Parameter.grad = null;
    }

    /// <summary>
    /// The moment estimates by name: <c>exp_avg.&lt;parameter&gt;</c> and <c>exp_avg_sq.&lt;parameter&gt;</c>.
    /// The tensors are the optimizer's own (not copies): save them, do not modify or dispose them.
    /// The step count is <see cref="StepCount"/>.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var slot in _slots)
        {
            state["exp_avg." + slot.Name] = slot.ExpAvg;
            state["exp_avg_sq." + slot.Name] = slot.ExpAvgSq;
        }
        return state;
    }

    /// <summary>
    /// Restores the moments from <paramref name="state"/> (as <see cref="StateDict"/> names them; values are copied,
    /// converted to each parameter's dtype and device) and the step count.
    /// </summary>
    /// <exception cref="TrainingException">A moment is missing, an entry names no parameter, a shape differs
    /// (the message names the key and both shapes), or the step count is negative.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(state);
        if (stepCount < 0) throw new TrainingException($"AdamW: step count must be ≥ 0, got {stepCount}.");
        var expected = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var slot in _slots)
        {
            foreach (var (key, own) in new[] { ("exp_avg." + slot.Name, slot.ExpAvg), ("exp_avg_sq." + slot.Name, slot.ExpAvgSq) })
            {
                expected.Add(key);
                if (!state.TryGetValue(key, out var given)) problems.Add($"missing '{key}'");
                else if (!given.shape.SequenceEqual(own.shape))
                    problems.Add($"'{key}' has shape {Shapes.Format(given.shape)} but the parameter has {Shapes.Format(own.shape)}");
            }
        }
        foreach (var key in state.Keys)
            if (!expected.Contains(key)) problems.Add($"unexpected '{key}' (no such parameter in this optimizer)");
        if (problems.Count > 0)
            throw new TrainingException($"AdamW state does not fit the optimizer's {_slots.Length} parameters: {string.Join("; ", problems.Take(10))}{(problems.Count > 10 ? $"; … {problems.Count - 10} more" : "")}.");

        using (no_grad())
        {
            foreach (var slot in _slots)
            {
                slot.ExpAvg.copy_(state["exp_avg." + slot.Name]);
                slot.ExpAvgSq.copy_(state["exp_avg_sq." + slot.Name]);
            }
        }
        StepCount = stepCount;
    }

    /// <summary>Frees the state tensors (not the parameters).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var slot in _slots)
        {
            slot.ExpAvg.Dispose();
            slot.ExpAvgSq.Dispose();
        }
    }
}

/// <summary>One of <see cref="AdamW.ParameterGroups"/>: parameters sharing a learning-rate factor and weight decay.</summary>
/// <param name="LearningRateScale">Factor on the optimizer's learning rate.</param>
/// <param name="WeightDecay">The decoupled weight decay of the group (0 for the no-decay parameters).</param>
/// <param name="Names">The parameters' names, in the order given to the optimizer.</param>
public sealed record AdamWParameterGroup(double LearningRateScale, double WeightDecay, IReadOnlyList<string> Names);
