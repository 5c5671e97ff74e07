using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// Tensors that depend only on parameters (e.g. each layer's projection of the relative-position table), kept between
/// inference passes as ONNX Runtime folds such constants at load. Used only in eval mode with autograd off; reused only
/// while a fingerprint of the source parameters (float64 row and column sums), their dtype and device are unchanged, so
/// an optimizer step, a load, <c>copy_</c> into a weight or <c>.to(…)</c> rebuilds it. Owns its tensors, outside any
/// dispose scope.
/// </summary>
internal sealed class InferenceCache : IDisposable
{
    private readonly Lock _gate = new();
    private Tensor? _fingerprint;
    private Tensor[]? _values;
    private long? _frozenGeneration;

    /// <summary>Whether a module in this state may use the cache: eval mode and no autograd (no_grad / inference_mode).</summary>
    public static bool Applies(nn.Module module) => !module.training && !is_grad_enabled();

    /// <summary>
    /// Row and column sums (float64) of every source, concatenated: any realistic change of a weight changes it. Belongs
    /// to the caller's scope. A 1-D source contributes its elements.
    /// </summary>
    public static Tensor Fingerprint(params Tensor?[] sources)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        foreach (var source in sources)
        {
            if (source is null) continue;
            parts.Add(full([1], (double)(int)source.dtype, dtype: ScalarType.Float64, device: source.device));   // a dtype change rebuilds
            var t = source.detach();
            if (t.dim() <= 1) parts.Add(t.reshape(-1).to(ScalarType.Float64));
            else
            {
                // Accumulate in float64 without a float64 copy of the weight (this runs every inference pass).
                var matrix = t.reshape(t.shape[0], -1);
                parts.Add(matrix.sum(1L, type: ScalarType.Float64));
                parts.Add(matrix.sum(0L, type: ScalarType.Float64));    // 0L: a literal 0 would bind to sum(ScalarType)
            }
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The cached tensors when the fingerprint (<paramref name="fingerprint"/>, computed in the caller's scope when
    /// needed) equals the one they were built for, else the result of <paramref name="build"/> (computed now, kept).
    /// With <paramref name="frozenGeneration"/> (<see cref="FrozenWeights.Generation"/> of the sources: the model is
    /// frozen for inference) the fingerprint is checked once per generation and then trusted, as the frozen weights
    /// are. The returned tensors stay owned by the cache: do not dispose them.
    /// </summary>
    public Tensor[] GetOrBuild(Func<Tensor> fingerprint, Func<Tensor[]> build, long? frozenGeneration = null)
    {
        lock (_gate)                                   // concurrent inference passes on one model build it once
        {
            if (_values is not null && frozenGeneration is not null && _frozenGeneration == frozenGeneration)
                return _values;
            var current = fingerprint();
            if (_values is not null && _fingerprint is not null && _fingerprint.device_type == current.device_type
                && _fingerprint.device_index == current.device_index
                && _fingerprint.shape.SequenceEqual(current.shape) && _fingerprint.eq(current).all().item<bool>())
            {
                _frozenGeneration = frozenGeneration;
                return _values;
            }
            ClearUnlocked();
            var values = build();
            foreach (var v in values) v.DetachFromDisposeScope();
            _values = values;
            _fingerprint = current.clone().DetachFromDisposeScope();
            _frozenGeneration = frozenGeneration;
            return values;
        }
    }

    /// <summary>Drops the cached tensors (training, or memory wanted back).</summary>
    public void Clear()
    {
        lock (_gate) ClearUnlocked();
    }

    private void ClearUnlocked()
    {
        if (_values is not null) foreach (var v in _values) v.Dispose();
        _values = null;
        _fingerprint?.Dispose();
        _fingerprint = null;
        _frozenGeneration = null;
    }

    /// <inheritdoc/>
    public void Dispose() => Clear();
}
