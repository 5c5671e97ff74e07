using DebertaSharp.Pipelines;

/// <summary>Text classification: a label for each text, or a score for every label.</summary>
internal static class Classify
{
    public static void Run(string model)
    {
        using var classifier = TextClassificationPipeline.FromPretrained(model);

        string[] reviews = ["I love this library, it just works.", "The build failed again and nobody knows why."];
        var results = classifier.Classify(reviews, textPairs: null);
        for (int i = 0; i < reviews.Length; i++)
        {
            Console.WriteLine($"{results[i][0].Label,-10} {results[i][0].Score:F3}  {reviews[i]}");
        }

        // Every label, best first.
        foreach (LabelScore s in classifier.Classify(reviews[0], new TextClassificationOptions { TopK = null }))
        {
            Console.WriteLine($"  {s.Label}: {s.Score:F3}");
        }
    }
}
