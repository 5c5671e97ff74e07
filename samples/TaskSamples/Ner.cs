using DebertaSharp.Pipelines;

/// <summary>Named entities: labelled words grouped into entities, with character offsets into the text.</summary>
internal static class Ner
{
    public static void Run(string model)
    {
        using var ner = TokenClassificationPipeline.FromPretrained(model);

        const string text = "Richard Stallman founded the Free Software Foundation in Boston.";
        var options = new TokenClassificationOptions { Aggregation = AggregationStrategy.First };
        foreach (TokenEntity entity in ner.Recognize(text, options))
        {
            Console.WriteLine($"{entity.Entity,-5} {entity.Score:F3}  [{entity.Start}, {entity.End})  {entity.Word}");
        }
    }
}
