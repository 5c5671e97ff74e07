using DebertaSharp.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// Gradient-disentangled embedding sharing (GDES, DeBERTa-v3 paper §3.2): the discriminator's table is
/// E_D = sg(E_G) + E_Δ — the generator's table without its gradient plus a delta of its own, initialised to 0.
/// <para>
/// The original code replaces the discriminator's <c>weight</c> by a buffer recomputed in a forward pre-hook. Here the
/// discriminator keeps its ordinary <c>weight</c> parameter (so its embedding, padding row and checkpoint layout are
/// unchanged) and this class keeps it equal to E_G + E_Δ: <see cref="Synchronize"/> writes it before every forward pass
/// and save, and <see cref="RouteGradients"/> moves the gradient it receives onto E_Δ after the backward pass
/// (∂E_D/∂E_Δ = I). The generator's table is a different tensor, so the discriminator's loss never reaches it.
/// </para>
/// <para>
/// E_Δ is registered on the discriminator's embedding module as <c>_weight</c>, the name the original code gives it, so a
/// saved discriminator holds <c>deberta.embeddings.word_embeddings.weight</c> = E_G + E_Δ (what HF loads) and
/// <c>deberta.embeddings.word_embeddings._weight</c> = E_Δ (which resuming restores exactly; HF reports it as unused).
/// </para>
/// Shared tables: the word embeddings, and the absolute position table when both models have one in their input
/// (<c>position_biased_input</c>), as the original code shares both.
/// </summary>
public sealed class GradientDisentangledEmbeddingSharing
{
    /// <summary>The name of the delta parameter on each shared embedding module.</summary>
    public const string DeltaName = "_weight";

    private static readonly string[] SharedModules = ["deberta.embeddings.word_embeddings", "deberta.embeddings.position_embeddings"];

    private readonly List<Link> _links = [];

    /// <summary>One shared table: the generator's parameter, the discriminator's parameter (E_D) and the delta (E_Δ).</summary>
    private sealed record Link(string Name, Parameter Generator, Parameter Discriminator, Parameter Delta);

    /// <summary>
    /// Links the tables of <paramref name="generator"/> and <paramref name="discriminator"/>: a zero delta is registered
    /// on each shared discriminator module that has none yet, then E_D is set to E_G + E_Δ.
    /// </summary>
    /// <exception cref="TrainingException">The two tables differ in shape (GDES needs equal vocabulary and embedding sizes).</exception>
    public GradientDisentangledEmbeddingSharing(DebertaPreTrainedModel generator, DebertaPreTrainedModel discriminator)
    {
        var generatorModules = generator.named_modules().ToDictionary(m => m.name, m => m.module);
        foreach (var (name, module) in discriminator.named_modules())
        {
            if (!SharedModules.Contains(name) || module is not Embedding table) continue;
            if (!generatorModules.TryGetValue(name, out var g) || g is not Embedding source) continue;
            if (name.EndsWith("position_embeddings", StringComparison.Ordinal) && !discriminator.Config.PositionBiasedInput) continue;
            var gw = source.weight!;
            var dw = table.weight!;
            if (!gw.shape.SequenceEqual(dw.shape))
                throw new TrainingException(
                    $"Gradient-disentangled embedding sharing needs equal tables: generator {name}.weight is {Shapes.Format(gw.shape)}, discriminator {Shapes.Format(dw.shape)}.");
            var delta = table.named_parameters(recurse: false).FirstOrDefault(p => p.name == DeltaName).parameter;
            if (delta is null)
            {
                using (no_grad()) delta = new Parameter(zeros_like(dw));
                table.register_parameter(DeltaName, delta);
            }
            _links.Add(new Link(name, gw, dw, delta));
        }
        if (_links.Count == 0)
            throw new TrainingException("Gradient-disentangled embedding sharing found no word-embedding table to share.");
        Synchronize();
    }

    /// <summary>Names (in the discriminator) of the shared tables, e.g. <c>deberta.embeddings.word_embeddings</c>.</summary>
    public IReadOnlyList<string> SharedTables => _links.Select(l => l.Name).ToList();

    /// <summary>The discriminator parameters GDES derives (E_D): not optimised directly, their gradient goes to the delta.</summary>
    public IReadOnlyList<Parameter> DerivedParameters => _links.Select(l => l.Discriminator).ToList();

    /// <summary>Names of <see cref="DerivedParameters"/> in the discriminator (<c>…word_embeddings.weight</c>).</summary>
    public IReadOnlyList<string> DerivedParameterNames => _links.Select(l => l.Name + ".weight").ToList();

    /// <summary>The deltas E_Δ by their discriminator parameter names (<c>…word_embeddings._weight</c>).</summary>
    public IEnumerable<(string Name, Parameter Delta)> Deltas => _links.Select(l => ($"{l.Name}.{DeltaName}", l.Delta));

    /// <summary>
    /// Sets every E_Δ to E_D − E_G, so that the discriminator keeps the table it has now (for a discriminator loaded
    /// from a checkpoint without deltas, e.g. a released one).
    /// </summary>
    public void KeepDiscriminatorTables()
    {
        using var noGrad = no_grad();
        foreach (var link in _links)
        {
            using var scope = NewDisposeScope();
            link.Delta.copy_(link.Discriminator - link.Generator);
        }
    }

    /// <summary>Sets every E_D to E_G + E_Δ (no gradient). Call before each discriminator forward pass and before saving.</summary>
    public void Synchronize()
    {
        using var noGrad = no_grad();
        foreach (var link in _links)
        {
            using var scope = NewDisposeScope();
            link.Discriminator.copy_(link.Generator + link.Delta);
        }
    }

    /// <summary>After backward: adds each E_D's gradient to its E_Δ and clears it from E_D.</summary>
    public void RouteGradients()
    {
        using var noGrad = no_grad();
        foreach (var link in _links)
        {
            var grad = link.Discriminator.grad;
            if (grad is null) continue;
            if (link.Delta.grad is null) link.Delta.grad = grad;
            else link.Delta.grad.add_(grad);
            link.Discriminator.grad = null;
        }
    }
}
