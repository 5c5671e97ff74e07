namespace DebertaSharp.Tokenization;

/// <summary>An integer field of <see cref="TokenEncoding"/>, for <see cref="BatchEncoding.ToInt64Matrix"/> and <see cref="BatchEncoding.ToInt64Flat"/>.</summary>
public enum EncodingField
{
    /// <summary><see cref="TokenEncoding.InputIds"/>.</summary>
    InputIds,

    /// <summary><see cref="TokenEncoding.TokenTypeIds"/>.</summary>
    TokenTypeIds,

    /// <summary><see cref="TokenEncoding.AttentionMask"/>.</summary>
    AttentionMask,

    /// <summary><see cref="TokenEncoding.SpecialTokensMask"/>.</summary>
    SpecialTokensMask,
}
