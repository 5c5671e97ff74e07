using DebertaSharp.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>
/// HF's <c>make_log_bucket_position</c> checked against values worked out by hand (not by the library):
/// mid = buckets / 2; |r| ≤ mid stays r; otherwise sign(r) · (⌈ln(|r| / mid) / ln((max_rel − 1) / mid) · (mid − 1)⌉ + mid).
/// </summary>
public class LogBucketTableTests
{
    // (relative distance r, buckets, max_relative_positions, bucket), arithmetic beside each row.
    public static TheoryData<long, int, int, long> Table => new()
    {
        // buckets 16, max_rel 64 (DeBERTa-v3's 256/512 scaled down): mid 8, ln(63/8) = ln 7.875 = 2.06369
        { 0, 16, 64, 0 },            // |r| ≤ 8: unchanged
        { 8, 16, 64, 8 },            // |r| = mid: unchanged
        { -8, 16, 64, -8 },
        { 9, 16, 64, 9 },            // ln(9/8) = 0.11778; /2.06369 · 7 = 0.3995 → ⌈⌉ 1 → 1 + 8 = 9
        { 10, 16, 64, 9 },           // ln 1.25 = 0.22314; → 0.7569 → 1 → 9 (two distances share a bucket)
        { 12, 16, 64, 10 },          // ln 1.5 = 0.40547; → 1.3753 → 2 → 10
        { -12, 16, 64, -10 },        // the sign carries over
        { 16, 16, 64, 11 },          // ln 2 = 0.69315; → 2.3511 → 3 → 11
        { 32, 16, 64, 13 },          // ln 4 = 1.38629; → 4.7023 → 5 → 13
        { 63, 16, 64, 15 },          // ln 7.875 / ln 7.875 = 1 exactly; · 7 = 7 → 7 → 15 = mid + (mid − 1), the last bucket
        { 64, 16, 64, 16 },          // ln 8 = 2.07944; → 7.0534 → 8 → 16: no clamping past max_rel − 1
        { -100, 16, 64, -17 },       // ln 12.5 = 2.52573; → 8.5672 → 9 → −17
        // buckets 8, max_rel 32 (the v2 conv fixture): mid 4, ln(31/4) = ln 7.75 = 2.04769
        { 4, 8, 32, 4 },             // |r| = mid: unchanged
        { 5, 8, 32, 5 },             // ln 1.25 = 0.22314; /2.04769 · 3 = 0.3269 → 1 → 5
        { 7, 8, 32, 5 },             // ln 1.75 = 0.55962; → 0.8199 → 1 → 5
        { 8, 8, 32, 6 },             // ln 2 = 0.69315; → 1.0155 → 2 → 6
        { -9, 8, 32, -6 },           // ln 2.25 = 0.81093; → 1.1881 → 2 → −6
        { 16, 8, 32, 7 },            // ln 4 = 1.38629; → 2.0310 → 3 → 7
        { 31, 8, 32, 7 },            // ratio 1 exactly; · 3 = 3 → 3 → 7, the last bucket
        { 32, 8, 32, 8 },            // ln 8 = 2.07944; → 3.0465 → 4 → 8
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void OneDistance(long relative, int buckets, int maxRelative, long expected) =>
        Assert.Equal(expected, RelativePositions.LogBucket(relative, buckets, maxRelative));

    /// <summary>The tensor path (what the encoder uses) gives the same table: r[i, j] = i − j.</summary>
    [Fact]
    public void BuiltPositionsFollowTheTable()
    {
        using var scope = NewDisposeScope();
        var built = RelativePositions.Build(13, 13, 16, 64).data<long>().ToArray();          // [13, 13], r from −12 to 12
        foreach (var row in Table)
        {
            long r = (long)row[0];
            if ((int)row[1] != 16 || Math.Abs(r) > 12) continue;
            for (int i = 0; i < 13; i++)
            {
                int j = i - (int)r;
                if (j is >= 0 and < 13) Assert.Equal((long)row[3], built[i * 13 + j]);
            }
        }
    }
}
