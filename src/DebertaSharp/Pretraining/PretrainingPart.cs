using DebertaSharp.Modeling;
using TorchSharp.Modules;

namespace DebertaSharp.Pretraining;

/// <summary>
/// One model of a pre-training run with its own optimizer, gradient clipping and checkpoint folder: the masked-LM
/// model of an MLM run, or the generator / the discriminator of an RTD run (trained decoupled, as the original code's
/// two trainers do).
/// </summary>
/// <param name="Folder">Sub-folder of a checkpoint or of the output (<c>""</c> for the MLM model, <c>generator</c>, <c>discriminator</c>).</param>
/// <param name="Model">The model, saved in HF layout.</param>
/// <param name="Parameters">The parameters its optimizer updates, by name (GDES-derived tables left out, deltas in).</param>
public sealed record PretrainingPart(string Folder, DebertaPreTrainedModel Model, IReadOnlyList<(string Name, Parameter Parameter)> Parameters);
