namespace DebertaSharp.Training;

/// <summary>How the learning rate moves after the linear warm-up.</summary>
public enum ScheduleKind
{
    /// <summary>Linear decay to 0 at the last step (HF <c>get_linear_schedule_with_warmup</c>).</summary>
    Linear,

    /// <summary>Half a cosine from 1 to 0 (HF <c>get_cosine_schedule_with_warmup</c>, 0.5 cycles).</summary>
    Cosine,

    /// <summary>Constant after warm-up (HF <c>get_constant_schedule_with_warmup</c>).</summary>
    Constant,
}
