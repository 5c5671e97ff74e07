using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DebertaSharp.Pretraining;

/// <summary>
/// DeBERTa-v3 replaced-token-detection pre-training, as the original <c>RTDModel</c> with <c>embedding_sharing=gdes</c>:
/// <list type="number">
/// <item>the generator (a <see cref="DebertaForMaskedLM"/>, Enhanced Mask Decoder on) predicts the targets of the masked
/// batch; its MLM loss is the cross-entropy there;</item>
/// <item>each target is replaced by a token sampled from the generator's softmax (temperature 1, torch's generator, no
/// gradient), other tokens keep the original;</item>
/// <item>the discriminator (<see cref="DebertaForReplacedTokenDetection"/>) labels every non-padding token of that
/// sequence replaced (sampled ≠ original) or not; its loss is the mean binary cross-entropy;</item>
/// <item>loss = MLM + λ·RTD (λ = <see cref="RtdWeight"/>, 50 in the DeBERTa-v3 paper).</item>
/// </list>
/// Embeddings are shared by <see cref="GradientDisentangledEmbeddingSharing"/>. The generator and the discriminator are
/// separate <see cref="PretrainingPart"/>s (own optimizer and clipping, as the original's decoupled trainers).
/// </summary>
public sealed class RtdPretrainingModel : PretrainingModel
{
    /// <summary>The checkpoint and output sub-folder of the generator.</summary>
    public const string GeneratorFolder = "generator";

    /// <summary>The checkpoint and output sub-folder of the discriminator.</summary>
    public const string DiscriminatorFolder = "discriminator";

    private readonly PretrainingPart[] _parts;

    /// <summary>
    /// Links <paramref name="generator"/> and <paramref name="discriminator"/> by GDES (a new delta starts at 0, so the
    /// discriminator's table becomes the generator's) and turns the generator's Enhanced Mask Decoder on when it can run.
    /// </summary>
    /// <exception cref="TrainingException">Embedding tables of different shapes, or λ not positive and finite.</exception>
    public RtdPretrainingModel(DebertaForMaskedLM generator, DebertaForReplacedTokenDetection discriminator, double rtdWeight = 50)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(discriminator);
        if (!(rtdWeight > 0) || double.IsInfinity(rtdWeight)) throw new TrainingException($"The RTD loss weight λ must be positive and finite, got {rtdWeight}.");
        if (EnhancedMaskDecoder.Unsupported(generator.Deberta) is null) generator.UseEnhancedMaskDecoder = true;
        Generator = generator;
        Discriminator = discriminator;
        RtdWeight = rtdWeight;
        Sharing = new GradientDisentangledEmbeddingSharing(generator, discriminator);
        var derived = Sharing.DerivedParameterNames.ToHashSet(StringComparer.Ordinal);
        _parts =
        [
            new PretrainingPart(GeneratorFolder, generator, generator.named_parameters().Select(p => (p.name, p.parameter)).ToList()),
            new PretrainingPart(DiscriminatorFolder, discriminator,
                discriminator.named_parameters().Where(p => !derived.Contains(p.name)).Select(p => (p.name, p.parameter)).ToList()),
        ];
    }

    /// <summary>
    /// The generator configuration the original v3 recipe uses: the discriminator's, with fewer layers (half by default,
    /// at least 1); width and vocabulary stay equal so that GDES can share the embeddings.
    /// </summary>
    /// <exception cref="TrainingException">A layer count below 1.</exception>
    public static DebertaConfig GeneratorConfig(DebertaConfig discriminator, int? layers = null)
    {
        int n = layers ?? Math.Max(1, discriminator.NumHiddenLayers / 2);
        if (n < 1) throw new TrainingException($"The generator needs at least 1 layer, got {n}.");
        var config = discriminator.Clone();
        config.NumHiddenLayers = n;
        config.Architectures = null;
        return config;
    }

    /// <summary>Randomly initialised generator and discriminator for <paramref name="discriminatorConfig"/>.</summary>
    public static RtdPretrainingModel Create(DebertaConfig discriminatorConfig, int? generatorLayers = null, double rtdWeight = 50) =>
        Create(discriminatorConfig, GeneratorConfig(discriminatorConfig, generatorLayers), rtdWeight);

    /// <summary>Randomly initialised generator and discriminator for the two given configurations (e.g. those of a checkpoint).</summary>
    public static RtdPretrainingModel Create(DebertaConfig discriminatorConfig, DebertaConfig generatorConfig, double rtdWeight = 50)
    {
        var generator = new DebertaForMaskedLM(generatorConfig, EmdPossible(generatorConfig));
        var discriminator = new DebertaForReplacedTokenDetection(discriminatorConfig);
        try
        {
            return new RtdPretrainingModel(generator, discriminator, rtdWeight);
        }
        catch
        {
            generator.Dispose();
            discriminator.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a pair: <paramref name="folder"/> with <c>generator/</c> and <c>discriminator/</c> sub-folders (the layout
    /// this class saves), or a single checkpoint (e.g. a released v3 discriminator) that initialises the discriminator,
    /// with a new generator of <paramref name="generatorLayers"/> layers whose embeddings start as the discriminator's.
    /// The discriminator keeps the table it was saved with: its saved delta is used with its own generator; otherwise
    /// (no delta, or a single checkpoint) the delta becomes its table − the generator's.
    /// </summary>
    /// <param name="folder">A checkpoint folder (pair or single) or a hub repository id.</param>
    /// <param name="generatorLayers">Layers of a new generator (single checkpoint only); <c>null</c> = half the discriminator's.</param>
    /// <param name="rtdWeight">Weight of the replaced-token loss beside the generator's MLM loss.</param>
    /// <param name="device">Where both models go; <c>null</c> keeps the CPU.</param>
    /// <param name="dtype">The parameters' type; <c>null</c> keeps float32, <see cref="TorchDtype.Auto"/> takes each checkpoint's.</param>
    public static RtdPretrainingModel FromPretrained(string folder, int? generatorLayers = null, double rtdWeight = 50, Device? device = null, ScalarType? dtype = null)
    {
        // Type and device are set before the weights are read and before the sharing links the tables: moving a module
        // afterwards would replace the parameters those links hold.
        void Place(DebertaPreTrainedModel model, DebertaConfig config, CheckpointReader checkpoint)
        {
            model.ConvertForLoading(dtype, config, checkpoint);
            if (device is not null) model.to(device);
        }

        folder = Hub.PretrainedSource.Resolve(folder, Hub.PretrainedFiles.Model);
        string generatorFolder = Path.Combine(folder, GeneratorFolder), discriminatorFolder = Path.Combine(folder, DiscriminatorFolder);
        bool pair = Directory.Exists(generatorFolder) && Directory.Exists(discriminatorFolder);
        var discriminatorConfig = DebertaConfig.FromPretrained(pair ? discriminatorFolder : folder);
        var discriminator = new DebertaForReplacedTokenDetection(discriminatorConfig);
        DebertaForMaskedLM? generator = null;
        try
        {
            bool hasDelta;
            using (var checkpoint = CheckpointReader.Open(pair ? discriminatorFolder : folder))
            {
                Place(discriminator, discriminatorConfig, checkpoint);
                hasDelta = checkpoint.Keys.Any(k => k.EndsWith("." + GradientDisentangledEmbeddingSharing.DeltaName, StringComparison.Ordinal));
                if (pair)
                {
                    var generatorConfig = DebertaConfig.FromPretrained(generatorFolder);
                    generator = new DebertaForMaskedLM(generatorConfig, EmdPossible(generatorConfig));
                    using var g = CheckpointReader.Open(generatorFolder);
                    Place(generator, generatorConfig, g);
                    generator.LoadWeights(g);
                }
                else
                {
                    generator = new DebertaForMaskedLM(GeneratorConfig(discriminatorConfig, generatorLayers), EmdPossible(discriminatorConfig));
                    Place(generator, discriminatorConfig, checkpoint);
                    CopyEmbeddings(checkpoint, generator);
                }
                var model = new RtdPretrainingModel(generator, discriminator, rtdWeight);   // registers the delta, so it loads
                discriminator.LoadWeights(checkpoint);
                // Keep the discriminator's table as loaded unless a saved delta belongs to this very generator.
                if (!pair || !hasDelta) model.Sharing.KeepDiscriminatorTables();
                model.Sharing.Synchronize();
                return model;
            }
        }
        catch
        {
            generator?.Dispose();
            discriminator.Dispose();
            throw;
        }
    }

    /// <summary>Copies the word embeddings (and the absolute position table, if any) of a discriminator checkpoint into a new generator.</summary>
    private static void CopyEmbeddings(CheckpointReader checkpoint, DebertaForMaskedLM generator)
    {
        foreach (var (name, parameter) in generator.named_parameters())
        {
            if (name is not ("deberta.embeddings.word_embeddings.weight" or "deberta.embeddings.position_embeddings.weight")) continue;
            string? key = new[] { name, name["deberta.".Length..] }.FirstOrDefault(checkpoint.Keys.Contains);
            if (key is null) continue;
            using (no_grad()) checkpoint.CopyInto(key, parameter);
        }
    }

    /// <summary>The generator (masked LM with EMD).</summary>
    public DebertaForMaskedLM Generator { get; }

    /// <summary>The discriminator (replaced-token detection).</summary>
    public DebertaForReplacedTokenDetection Discriminator { get; }

    /// <summary>The embedding sharing between the two.</summary>
    public GradientDisentangledEmbeddingSharing Sharing { get; }

    /// <summary>λ, the weight of the RTD loss.</summary>
    public double RtdWeight { get; }

    /// <inheritdoc/>
    public override PretrainingObjective Objective => PretrainingObjective.Rtd;

    /// <inheritdoc/>
    public override IReadOnlyList<PretrainingPart> Parts => _parts;

    /// <inheritdoc/>
    public override PretrainingLosses Forward(MaskedBatch batch)
    {
        using var scope = NewDisposeScope();
        Sharing.Synchronize();
        var inputs = batch.ToInputs(Device);
        var ids = inputs.InputIds;                                                     // [B, L]
        var labels = inputs.Labels!;                                                   // [B, L], −100 off target
        var generated = Generator.ForwardMaskedTargets(inputs);
        var mlm = generated.Loss!;
        long targets = generated.TargetIndex.shape[0];

        Tensor corrupted, replaced;
        double mlmAccuracy, replacedFraction;
        using (no_grad())
        {
            var probabilities = generated.Logits.detach().to(ScalarType.Float32).softmax(-1);          // [T, vocab]
            var sampled = targets == 0 ? zeros(0, dtype: ScalarType.Int64, device: ids.device)
                : multinomial(probabilities, 1).view(-1);                                               // [T]
            corrupted = ids.reshape(-1).clone().index_put_(sampled, generated.TargetIndex).view(ids.shape);   // [B, L]
            var original = where(labels.ne(MaskedBatch.IgnoreLabel), labels, ids);                       // [B, L]
            replaced = corrupted.ne(original).to(ScalarType.Int64);                                     // [B, L] 1 = replaced
            mlmAccuracy = Mean(generated.Logits.argmax(-1).eq(generated.Labels!));
            replacedFraction = Mean(sampled.ne(generated.Labels!));
        }

        var judged = Discriminator.Forward(new DebertaInputs(corrupted) { AttentionMask = inputs.AttentionMask, Labels = replaced });
        var rtd = judged.Loss!;
        double rtdAccuracy;
        using (no_grad())
        {
            var active = inputs.AttentionMask!.ne(0);
            rtdAccuracy = Mean(judged.Logits!.gt(0).eq(replaced.ne(0)).masked_select(active));
        }
        var total = mlm + rtd * RtdWeight;
        return new PretrainingLosses
        {
            Total = total.MoveToOuterDisposeScope(),
            MlmLoss = mlm.detach().to(ScalarType.Float64).item<double>(),
            MlmAccuracy = mlmAccuracy,
            RtdLoss = rtd.detach().to(ScalarType.Float64).item<double>(),
            RtdAccuracy = rtdAccuracy,
            ReplacedFraction = replacedFraction,
            Targets = targets,
        };
    }

    /// <inheritdoc/>
    public override void AfterBackward() => Sharing.RouteGradients();

    /// <inheritdoc/>
    public override void BeforeSave() => Sharing.Synchronize();
}
