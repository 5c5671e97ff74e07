using DebertaSharp.Pipelines;

/// <summary>Zero-shot classification: labels chosen at run time, scored by an NLI model.</summary>
internal static class ZeroShot
{
    public static void Run(string model)
    {
        using var zeroShot = ZeroShotClassificationPipeline.FromPretrained(model);

        ZeroShotResult result = zeroShot.Classify(
            "The new phone's battery lasts two days on a single charge.",
            ["technology", "sports", "cooking"],
            new ZeroShotOptions { HypothesisTemplate = "This text is about {}." });

        Console.WriteLine(result.Sequence);
        foreach (LabelScore label in result.Labels)
        {
            Console.WriteLine($"  {label.Label,-12} {label.Score:F3}");
        }
    }
}
