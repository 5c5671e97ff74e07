namespace DebertaSharp.Tokenization;

/// <summary>How encodings are padded, as HuggingFace's <c>padding=</c>.</summary>
public enum PaddingStrategy
{
    /// <summary>No padding (<c>do_not_pad</c> / <c>False</c>).</summary>
    DoNotPad,

    /// <summary>Pad every encoding of a batch to the longest one (<c>longest</c> / <c>True</c>); a single encoding is unchanged.</summary>
    Longest,

    /// <summary>Pad every encoding to <see cref="EncodeOptions.MaxLength"/> (or the model's maximum length); longer ones are left as they are.</summary>
    MaxLength,
}
