using DebertaSharp.Training;
using Xunit;

namespace DebertaSharp.Tests.Training;

public class LearningRateScheduleTests
{
    [Theory]
    // Linear, warm-up 10 of 110: rises 0 → 1 over 10 steps, then falls to 0 at 110.
    [InlineData(ScheduleKind.Linear, 0, 0.0)]
    [InlineData(ScheduleKind.Linear, 5, 0.5)]
    [InlineData(ScheduleKind.Linear, 10, 1.0)]
    [InlineData(ScheduleKind.Linear, 35, 0.75)]
    [InlineData(ScheduleKind.Linear, 60, 0.5)]
    [InlineData(ScheduleKind.Linear, 110, 0.0)]
    [InlineData(ScheduleKind.Linear, 200, 0.0)]
    // Cosine: 0.5·(1 + cos(π·progress)).
    [InlineData(ScheduleKind.Cosine, 5, 0.5)]
    [InlineData(ScheduleKind.Cosine, 10, 1.0)]
    [InlineData(ScheduleKind.Cosine, 35, 0.85355339059327373)]   // progress 1/4: (1 + √2/2)/2
    [InlineData(ScheduleKind.Cosine, 60, 0.5)]
    [InlineData(ScheduleKind.Cosine, 85, 0.14644660940672627)]
    [InlineData(ScheduleKind.Cosine, 110, 0.0)]
    [InlineData(ScheduleKind.Constant, 3, 0.3)]
    [InlineData(ScheduleKind.Constant, 10, 1.0)]
    [InlineData(ScheduleKind.Constant, 109, 1.0)]
    public void FactorsMatchHandValues(ScheduleKind kind, long step, double expected)
    {
        var schedule = new LearningRateSchedule(kind, 10, 110);
        Assert.Equal(expected, schedule.Factor(step), 12);
    }

    [Fact]
    public void NoWarmupStartsAtFullRate()
    {
        var schedule = new LearningRateSchedule(ScheduleKind.Linear, 0, 4);
        Assert.Equal([1.0, 0.75, 0.5, 0.25, 0.0], Enumerable.Range(0, 5).Select(s => schedule.Factor(s)));
    }

    [Fact]
    public void BadSchedulesAreRejected()
    {
        Assert.Throws<TrainingException>(() => new LearningRateSchedule(ScheduleKind.Linear, 20, 10).Validate());
        Assert.Throws<TrainingException>(() => new LearningRateSchedule(ScheduleKind.Linear, 0, 0).Validate());
        Assert.Throws<TrainingException>(() => new LearningRateSchedule(ScheduleKind.Linear, -1, 10).Validate());
        Assert.Equal(6, LearningRateSchedule.WarmupFromRatio(0.06, 100));
        Assert.Equal(3, LearningRateSchedule.WarmupFromRatio(0.1, 25));
    }
}
