namespace DebertaSharp.Tests.Pretraining;

/// <summary>Paths of the pre-training sample kept in the repository (<c>samples/pretraining</c>).</summary>
internal static class PretrainingSamples
{
    public static string Root =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "pretraining"));

    /// <summary>The tiny corpus written for the project (CC0).</summary>
    public static string Corpus => Path.Combine(Root, "corpus.txt");

    /// <summary>The hidden-32, 2-layer v3 config with its tokenizer beside it.</summary>
    public static string TinyV3 => Path.Combine(Root, "tiny-v3");
}
