using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>Direct, unbatched model calls the pipeline tests compare against.</summary>
internal static class Direct
{
    /// <summary>The logits of one encoding, flattened (sequence classification: [labels]; token classification: [L·labels]).</summary>
    public static float[] Logits(DebertaPreTrainedModel model, TokenEncoding encoding)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var output = model.Forward(new BatchEncoding([encoding]).ToInputs(model.Device));
        return output.Logits!.to(ScalarType.Float32).data<float>().ToArray();
    }

    /// <summary>Start and end logits of one encoding.</summary>
    public static (float[] Start, float[] End) QuestionAnswering(DebertaPreTrainedModel model, TokenEncoding encoding)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var output = model.Forward(new BatchEncoding([encoding]).ToInputs(model.Device));
        return (output.StartLogits!.data<float>().ToArray(), output.EndLogits!.data<float>().ToArray());
    }

    public static double[] Softmax(IReadOnlyList<float> x)
    {
        double max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    public static double Sigmoid(float x) => 1 / (1 + Math.Exp(-x));

    public static int ArgMax(IReadOnlyList<double> x) => Enumerable.Range(0, x.Count).MaxBy(i => x[i]);
}

/// <summary>Direct calls on raw id rows (windows cut by hand from a full encoding).</summary>
internal static class DirectIds
{
    /// <summary>Flattened logits (or start/end logits) of one row of ids, token types all <paramref name="types"/>.</summary>
    public static float[][] Run(DebertaSharp.Modeling.DebertaPreTrainedModel model, IReadOnlyList<int> ids, IReadOnlyList<int> types)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var mode = TorchSharp.torch.inference_mode();
        var inputs = new DebertaSharp.Modeling.DebertaInputs(TorchSharp.torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]))
        {
            TokenTypeIds = TorchSharp.torch.tensor(types.Select(i => (long)i).ToArray(), [1, ids.Count]),
        };
        using var output = model.Forward(inputs);
        return output.Logits is { } l
            ? [l.data<float>().ToArray()]
            : [output.StartLogits!.data<float>().ToArray(), output.EndLogits!.data<float>().ToArray()];
    }
}
