using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using static TorchSharp.torch;

namespace DebertaSharp.Training.Data;

/// <summary>Some items of another dataset (see <see cref="FineTuningDataset.Split"/>); it tokenises nothing again.</summary>
public sealed class FineTuningSubset : FineTuningDataset
{
    /// <summary>Creates a view of <paramref name="items"/> of <paramref name="parent"/>.</summary>
    /// <exception cref="DatasetException">An item index outside the parent.</exception>
    public FineTuningSubset(FineTuningDataset parent, IReadOnlyList<int> items) : base(parent.Source, parent.PadTokenId)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (int i in items)
            if (i < 0 || i >= parent.Count) throw new DatasetException($"Item {i} is outside '{parent.Source}' ({parent.Count} items).");
        Parent = parent;
        Items = items;
    }

    /// <summary>The dataset this is part of.</summary>
    public FineTuningDataset Parent { get; }

    /// <summary>The parent's item indices this subset holds, in order.</summary>
    public IReadOnlyList<int> Items { get; }

    /// <inheritdoc/>
    public override HeadKind Head => Parent.Head;

    /// <inheritdoc/>
    public override int Count => Items.Count;

    /// <inheritdoc/>
    public override int ExampleCount => Items.Select(i => Parent.ExampleOf(i)).Distinct().Count();

    /// <inheritdoc/>
    public override string DefaultMetric => Parent.DefaultMetric;

    /// <inheritdoc/>
    public override int ExampleOf(int index) => Parent.ExampleOf(Items[index]);

    /// <inheritdoc/>
    public override int LengthOf(int index) => Parent.LengthOf(Items[index]);

    /// <inheritdoc/>
    public override DebertaInputs Collate(IReadOnlyList<int> indices, Device device) => Parent.Collate(Map(indices), device);

    /// <inheritdoc/>
    public override void ConfigureModel(DebertaConfig config) => Parent.ConfigureModel(config);

    /// <inheritdoc/>
    public override void CheckModel(DebertaPreTrainedModel model) => Parent.CheckModel(model);

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator() => new Mapped(Parent.CreateEvaluator(), this);

    private int[] Map(IReadOnlyList<int> indices) => indices.Select(i => Items[i]).ToArray();

    private sealed class Mapped(TaskEvaluator inner, FineTuningSubset subset) : TaskEvaluator
    {
        public override void Add(IReadOnlyList<int> indices, DebertaOutput output) => inner.Add(subset.Map(indices), output);

        public override IReadOnlyDictionary<string, double> Compute() => inner.Compute();
    }
}
