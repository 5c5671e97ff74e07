using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Gradient checkpointing of one encoder layer: the forward pass runs without recording autograd history and keeps
/// only the layer's inputs; backward runs the layer again with history, from the same random-generator state (so
/// dropout draws the same masks), and takes the gradients of that recomputation. Gradients equal those of the plain
/// pass; activation memory drops to one layer's worth plus the layer inputs.
/// </summary>
internal static class LayerCheckpoint
{
    /// <summary>
    /// Runs <paramref name="layer"/> on <paramref name="hidden"/> [B, L, H] under checkpointing. Returns the output
    /// and, when <paramref name="outputAttentions"/>, the probabilities (both differentiable), in the caller's scope.
    /// </summary>
    public static (Tensor Output, Tensor? Probabilities) Forward(DebertaLayer layer, Tensor hidden, AttentionContext context, bool outputAttentions)
    {
        if (hidden.device_type != DeviceType.CPU && layer.training && layer.HasDropout)
            throw new DebertaConfigurationException(
                "Gradient checkpointing with active dropout needs the device's random-generator state to replay dropout; " +
                "TorchSharp 0.107 exposes it for the CPU generator only. Use dropout 0 on this device or turn checkpointing off.");
        var run = new Recompute(layer, context, outputAttentions);
        var contextTensors = context.Tensors;
        var parameters = layer.parameters().ToArray();
        var arguments = new object?[1 + 1 + contextTensors.Length + parameters.Length];
        arguments[0] = run;
        arguments[1] = hidden;
        for (int i = 0; i < contextTensors.Length; i++) arguments[2 + i] = contextTensors[i];
        for (int i = 0; i < parameters.Length; i++) arguments[2 + contextTensors.Length + i] = parameters[i];
        var outputs = CheckpointFunction.apply(arguments!);
        return (outputs[0], outputAttentions ? outputs[1] : null);
    }

    /// <summary>What backward needs to run the layer again: the layer, the context's shape, the generator state.</summary>
    private sealed class Recompute(DebertaLayer layer, AttentionContext context, bool outputAttentions)
    {
        public DebertaLayer Layer { get; } = layer;
        public AttentionContext Context { get; } = context;
        public bool OutputAttentions { get; } = outputAttentions;
        public int ContextTensorCount { get; } = context.Tensors.Length;
        public byte[]? GeneratorState { get; set; }
        public ScalarType? ComputeType { get; } = Autocast.ComputeType;     // the replay runs in the first pass's precision

        /// <summary>The layer on <paramref name="hidden"/> with the context rebuilt over <paramref name="contextTensors"/>.</summary>
        public List<Tensor> Run(Tensor hidden, IReadOnlyList<Tensor?> contextTensors)
        {
            using var precision = Autocast.Enter(ComputeType);
            var (output, probs) = Layer.Forward(hidden, Context.With(contextTensors), null, OutputAttentions);
            return probs is null ? [output] : [output, probs];
        }
    }

    /// <summary>
    /// The autograd function. Arguments: the <see cref="Recompute"/>, the layer input, the context tensors (nulls
    /// allowed), then the layer's parameters (so that their gradients flow through this node).
    /// </summary>
    private sealed class CheckpointFunction : autograd.MultiTensorFunction<CheckpointFunction>
    {
        public override string Name => "DebertaLayerCheckpoint";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var run = (Recompute)vars[0];
            var hidden = (Tensor)vars[1];
            var contextTensors = Enumerable.Range(0, run.ContextTensorCount).Select(i => vars[2 + i] as Tensor).ToArray();
            using (var state = random.get_rng_state())
                run.GeneratorState = state.data<byte>().ToArray();
            ctx.save_data("run", run);
            ctx.save_for_backward([hidden, .. contextTensors]);
            return run.Run(hidden, contextTensors);                   // autograd is off inside apply's forward
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            var run = (Recompute)ctx.get_data("run");
            var saved = ctx.get_saved_variables();
            var parameters = run.Layer.parameters().ToArray();
            var grads = new Tensor?[2 + run.ContextTensorCount + parameters.Length];
            using (var scope = NewDisposeScope())
            {
                // Inputs that need gradients become fresh leaves of the recomputation.
                var inputs = saved.Select(t => t is null ? null : t.requires_grad ? t.detach().requires_grad_(true) : t.detach()).ToList();
                List<Tensor> outputs;
                using (var current = random.get_rng_state())
                {
                    var replay = tensor(run.GeneratorState!, dtype: ScalarType.Byte);
                    random.set_rng_state(replay);
                    try
                    {
                        using var enable = enable_grad();
                        outputs = run.Run(inputs[0]!, inputs.Skip(1).ToArray());
                    }
                    finally
                    {
                        random.set_rng_state(current);
                    }
                }
                var targets = inputs.Select((t, i) => (t, i)).Where(p => p.t is not null && p.t.requires_grad).ToList();
                // By position: Tensor.Equals compares values, so IndexOf would confuse equal parameters (all-zero biases).
                var trainable = Enumerable.Range(0, parameters.Length).Where(i => parameters[i].requires_grad).ToList();
                var differentiable = targets.Select(p => p.t!).Concat(trainable.Select(i => (Tensor)parameters[i])).ToList();
                var used = outputs.Select((o, i) => (o, g: gradOutputs[i])).Where(p => p.g is not null && !p.g.IsInvalid && p.o.requires_grad).ToList();
                if (used.Count > 0 && differentiable.Count > 0)
                {
                    var result = autograd.grad(used.Select(p => p.o).ToList(), differentiable, used.Select(p => p.g).ToList(), allow_unused: true);
                    for (int i = 0; i < targets.Count; i++)
                        grads[1 + targets[i].i] = Keep(result[i]);
                    for (int i = 0; i < trainable.Count; i++)
                        grads[2 + run.ContextTensorCount + trainable[i]] = Keep(result[targets.Count + i]);
                }
            }
            return grads.ToList()!;
        }

        /// <summary>A gradient that must outlive backward's scope: autograd takes it from here.</summary>
        private static Tensor? Keep(Tensor? grad) => grad is null || grad.IsInvalid ? null : grad.MoveToOuterDisposeScope();
    }
}
