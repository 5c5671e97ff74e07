namespace DebertaSharp.Pipelines;

/// <summary>Scores from logits in double precision, as the HF pipelines compute them in numpy.</summary>
internal static class Probabilities
{
    /// <summary>Max-shifted softmax over <paramref name="logits"/>.</summary>
    public static double[] Softmax(ReadOnlySpan<float> logits)
    {
        var result = new double[logits.Length];
        double max = double.NegativeInfinity;
        foreach (float x in logits)
        {
            max = Math.Max(max, x);
        }

        double sum = 0;
        for (int k = 0; k < result.Length; k++)
        {
            result[k] = Math.Exp(logits[k] - max);
            sum += result[k];
        }

        for (int k = 0; k < result.Length; k++)
        {
            result[k] /= sum;
        }

        return result;
    }

    /// <summary>The logistic function of each logit.</summary>
    public static double[] Sigmoid(ReadOnlySpan<float> logits)
    {
        var result = new double[logits.Length];
        for (int k = 0; k < result.Length; k++)
        {
            result[k] = 1.0 / (1.0 + Math.Exp(-logits[k]));
        }

        return result;
    }
}
