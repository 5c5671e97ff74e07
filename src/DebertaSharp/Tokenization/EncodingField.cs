namespace DebertaSharp.Tokenization;

/// <summary>An integer field of <see cref="Encoding"/>, for <see cref="BatchEncoding.ToInt64Matrix"/> and <see cref="BatchEncoding.ToInt64Flat"/>.</summary>
public enum EncodingField
{
    /// <summary><see cref="Encoding.InputIds"/>.</summary>
    InputIds,

    /// <summary><see cref="Encoding.TokenTypeIds"/>.</summary>
    TokenTypeIds,

    /// <summary><see cref="Encoding.AttentionMask"/>.</summary>
    AttentionMask,

    /// <summary><see cref="Encoding.SpecialTokensMask"/>.</summary>
    SpecialTokensMask,
}
