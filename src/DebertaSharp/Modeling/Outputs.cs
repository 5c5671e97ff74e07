using static TorchSharp.torch;

namespace DebertaSharp.Modeling;

/// <summary>
/// What a forward pass returns. The output owns its tensors: dispose it (or move the tensors you keep)
/// when done. Optional members are <c>null</c> when not requested or not applicable.
/// </summary>
public class DebertaOutput : IDisposable
{
    /// <summary>Final encoder output [B, L, hidden].</summary>
    public required Tensor LastHiddenState { get; init; }

    /// <summary>Embedding output then each layer's output (N + 1 tensors [B, L, hidden]), when requested.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; init; }

    /// <summary>Each layer's attention probabilities [B, heads, L, L], when requested.</summary>
    public IReadOnlyList<Tensor>? Attentions { get; init; }

    /// <summary>Scalar (0-d) loss, when labels were given.</summary>
    public Tensor? Loss { get; init; }

    /// <summary>Head output: MLM [B, L, vocab], sequence classification [B, labels], token classification
    /// [B, L, labels], multiple choice [B, choices]; <c>null</c> for the bare model and question answering.</summary>
    public Tensor? Logits { get; init; }

    /// <summary>Question answering: start scores [B, L].</summary>
    public Tensor? StartLogits { get; init; }

    /// <summary>Question answering: end scores [B, L].</summary>
    public Tensor? EndLogits { get; init; }

    /// <summary>Every tensor of this output with its name as the CLI writes it (<c>hidden_states.0</c>, <c>logits</c>, …).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedTensors()
    {
        yield return new("last_hidden_state", LastHiddenState);
        if (HiddenStates is not null)
            for (int i = 0; i < HiddenStates.Count; i++) yield return new($"hidden_states.{i}", HiddenStates[i]);
        if (Attentions is not null)
            for (int i = 0; i < Attentions.Count; i++) yield return new($"attentions.{i}", Attentions[i]);
        if (Logits is not null) yield return new("logits", Logits);
        if (StartLogits is not null) yield return new("start_logits", StartLogits);
        if (EndLogits is not null) yield return new("end_logits", EndLogits);
        if (Loss is not null) yield return new("loss", Loss);
    }

    /// <summary>Disposes every tensor this output holds (shared ones once).</summary>
    public void Dispose()
    {
        OutputTensors.DisposeOnce(NamedTensors());
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Masked-LM predictions at target positions only, from <see cref="DebertaForMaskedLM.ForwardMaskedTargets"/>.
/// Rows are the targets in row-major order of (batch, position). The output owns its tensors: dispose it.
/// </summary>
public sealed class MaskedTargetsOutput : IDisposable
{
    /// <summary>Whether the Enhanced Mask Decoder produced these predictions (otherwise the plain HF head did).</summary>
    public required bool UsedEnhancedMaskDecoder { get; init; }

    /// <summary>Flat index b·L + l of each target, int64 [T].</summary>
    public required Tensor TargetIndex { get; init; }

    /// <summary>Vocabulary scores at the targets [T, vocab].</summary>
    public required Tensor Logits { get; init; }

    /// <summary>
    /// The decoder's query at the targets after each EMD step, [T, hidden] each (two with
    /// <c>position_biased_input=false</c>, one — the last layer's output — with <c>position_biased_input=true</c>);
    /// empty when the plain head was used.
    /// </summary>
    public required IReadOnlyList<Tensor> QueryStates { get; init; }

    /// <summary>Z, the absolute position embeddings the EMD query starts from [B, L, hidden]; <c>null</c> unless EMD ran with <c>position_biased_input=false</c>.</summary>
    public Tensor? PositionStates { get; init; }

    /// <summary>Labels at the targets [T] (HF convention, −100 = ignore), when labels were given.</summary>
    public Tensor? Labels { get; init; }

    /// <summary>Cross-entropy per target [T] (0 where the label is −100), when labels were given.</summary>
    public Tensor? LossPerToken { get; init; }

    /// <summary>Scalar mean cross-entropy over targets with a label (HF's MLM loss); 0 when there are no targets.</summary>
    public Tensor? Loss { get; init; }

    /// <summary>Embedding output then each layer's output (N + 1 tensors [B, L, hidden]), when requested.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; init; }

    /// <summary>Every tensor of this output with a readable name.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedTensors()
    {
        yield return new("target_index", TargetIndex);
        yield return new("logits", Logits);
        for (int i = 0; i < QueryStates.Count; i++) yield return new($"query_states.{i}", QueryStates[i]);
        if (PositionStates is not null) yield return new("position_states", PositionStates);
        if (Labels is not null) yield return new("labels", Labels);
        if (LossPerToken is not null) yield return new("loss_per_token", LossPerToken);
        if (Loss is not null) yield return new("loss", Loss);
        if (HiddenStates is not null)
            for (int i = 0; i < HiddenStates.Count; i++) yield return new($"hidden_states.{i}", HiddenStates[i]);
    }

    /// <summary>Disposes every tensor this output holds (shared ones once).</summary>
    public void Dispose() => OutputTensors.DisposeOnce(NamedTensors());
}

/// <summary>
/// The outputs' tensors can repeat (<c>LastHiddenState</c> is <c>HiddenStates[^1]</c>; the EMD's last query can be the
/// last hidden state): each is moved out of the forward's scope and disposed exactly once.
/// </summary>
internal static class OutputTensors
{
    /// <summary>
    /// Moves each distinct tensor one dispose scope out. A tensor moved twice would skip the caller's scope and escape
    /// it (issue 14).
    /// </summary>
    public static void MoveOutOnce(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var seen = new HashSet<IntPtr>();
        foreach (var (_, t) in tensors)
            if (seen.Add(t.Handle)) t.MoveToOuterDisposeScope();
    }

    /// <summary>Disposes each distinct live tensor once.</summary>
    public static void DisposeOnce(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var seen = new HashSet<IntPtr>();
        foreach (var (_, t) in tensors)
            if (!t.IsInvalid && seen.Add(t.Handle)) t.Dispose();
    }
}
