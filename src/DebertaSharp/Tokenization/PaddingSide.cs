namespace DebertaSharp.Tokenization;

/// <summary>Where padding tokens go, as HuggingFace's <c>padding_side</c>.</summary>
public enum PaddingSide
{
    /// <summary>After the tokens (the default for DeBERTa).</summary>
    Right,

    /// <summary>Before the tokens.</summary>
    Left,
}
