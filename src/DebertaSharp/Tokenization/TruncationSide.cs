namespace DebertaSharp.Tokenization;

/// <summary>Which end of a sequence truncation cuts, as HuggingFace's <c>truncation_side</c>.</summary>
public enum TruncationSide
{
    /// <summary>Cut tokens at the end (the default); overflow windows move from the start to the end.</summary>
    Right,

    /// <summary>Cut tokens at the start: the encoding keeps the last tokens; overflow windows move from the end to the start.</summary>
    Left,
}
