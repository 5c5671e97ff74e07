using static TorchSharp.torch;

namespace DebertaSharp.Training;

/// <summary>
/// Deterministic seeding: torch's generators (weight initialisation, dropout) and a <see cref="SeededRandom"/> for
/// host-side choices. Data order is a pure function of (seed, epoch) — <see cref="Permutation"/> — so resuming needs
/// no data-loader state.
/// </summary>
public static class TrainingSeed
{
    /// <summary>Seeds torch's default CPU generator (and every CUDA generator when CUDA is available) and returns
    /// <c>RandomFor(seed, 0)</c>.</summary>
    public static SeededRandom Set(int seed)
    {
        manual_seed(seed);
        if (cuda.is_available()) cuda.manual_seed_all(seed);
        return RandomFor(seed, 0);
    }

    /// <summary>A generator for one stream of a run (e.g. an epoch or a step), fixed by (seed, stream).</summary>
    public static SeededRandom RandomFor(int seed, long stream) =>
        new(Mix((ulong)(uint)seed, (ulong)stream));

    /// <summary>The order in which an epoch visits <paramref name="count"/> examples (Fisher–Yates on <see cref="RandomFor"/>).</summary>
    public static int[] Permutation(int count, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = Enumerable.Range(0, count).ToArray();
        var random = RandomFor(seed, epoch);
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    // Two rounds of the SplitMix64 finaliser over (seed, stream) so that neighbouring streams are unrelated.
    private static ulong Mix(ulong seed, ulong stream)
    {
        var r = new SeededRandom(seed * 0xD1B54A32D192ED03UL ^ stream);
        r.NextUInt64();
        return r.NextUInt64() ^ stream;
    }
}
