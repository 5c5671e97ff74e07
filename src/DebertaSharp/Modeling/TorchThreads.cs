using DebertaSharp.Configuration;

namespace DebertaSharp.Modeling;

/// <summary>
/// The torch intra-op thread count that suits a model. Small hidden sizes make every matrix product so short that
/// OpenMP's fork/join and the threads waiting for each other on a shared machine cost more than the second core
/// gains, so they run on one thread; larger models (deberta-v3-base and up) use one thread per core, torch's own
/// default. Measured on a shared, busy 2-core AMD EPYC (training step, 8×64 tokens, 1 and 2 threads alternated, median
/// of per-pair ratios): one thread took 0.14× the time of two at hidden 32 and 128, 0.09× at hidden 256; the tiny
/// pre-training example took 157 s with torch's default against 11 s with one thread.
/// </summary>
public static class TorchThreads
{
    /// <summary>Hidden sizes below this run on one thread.</summary>
    public const int SingleThreadBelowHiddenSize = 512;

    /// <summary>The thread count for <paramref name="config"/>: 1 below <see cref="SingleThreadBelowHiddenSize"/>, else one per core.</summary>
    /// <param name="config">The model's configuration.</param>
    /// <returns>The number of threads to give <c>torch.set_num_threads</c>.</returns>
    public static int For(DebertaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.HiddenSize < SingleThreadBelowHiddenSize ? 1 : Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>Sets torch's thread count to <see cref="For"/> of <paramref name="config"/> and returns it.</summary>
    /// <param name="config">The model's configuration.</param>
    /// <returns>The thread count set.</returns>
    public static int Apply(DebertaConfig config)
    {
        int threads = For(config);
        if (TorchSharp.torch.get_num_threads() != threads)
        {
            TorchSharp.torch.set_num_threads(threads);
        }

        return threads;
    }
}
