using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// What every layer's disentangled attention shares in one forward pass: the relative-embedding rows in use
/// (already normalised) and the table index of each (query, key) pair. Built once per forward by the encoder.
/// </summary>
public sealed class RelativeContext : IDisposable
{
    /// <summary>Relative-embedding rows in use, [2·span, hidden]; row idx encodes relative bucket idx − span.</summary>
    public Tensor Embeddings { get; }

    /// <summary>Table index of each (query i, key j) pair, int64 [Lq, Lk]: clamp(bucket(i − j) + span, 0, 2·span − 1).</summary>
    public Tensor Index { get; }

    /// <summary>Half the number of rows in <see cref="Embeddings"/>.</summary>
    public long Span { get; }

    /// <summary>Wraps the tensors; the context owns and disposes them.</summary>
    public RelativeContext(Tensor embeddings, Tensor index, long span)
    {
        Embeddings = embeddings;
        Index = index;
        Span = span;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Embeddings.Dispose();
        Index.Dispose();
    }
}
