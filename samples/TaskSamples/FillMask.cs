using DebertaSharp.Pipelines;

/// <summary>fill-mask: the most likely tokens for each [MASK].</summary>
internal static class FillMask
{
    public static void Run(string model)
    {
        using var fill = FillMaskPipeline.FromPretrained(model);
        Console.WriteLine(fill.UsesEnhancedMaskDecoder ? "Using the Enhanced Mask Decoder." : "Using the plain masked-LM head.");

        foreach (MaskPredictions mask in fill.Predict("Permission is hereby [MASK], free of charge, to any person."))
        {
            foreach (FillMaskPrediction p in mask.Predictions)
            {
                Console.WriteLine($"{p.Score:F3}  {p.TokenString,-15} {p.Sequence}");
            }
        }
    }
}
