namespace DebertaSharp.Pretraining;

/// <summary>What a pre-training run optimises.</summary>
public enum PretrainingObjective
{
    /// <summary>Masked language modelling through the Enhanced Mask Decoder (DeBERTa v1/v2).</summary>
    Mlm,

    /// <summary>
    /// Replaced-token detection (DeBERTa v3, ELECTRA-style): a small MLM generator fills the masks, a discriminator
    /// tells replaced tokens from original ones; embeddings shared by GDES; loss = MLM + λ·RTD.
    /// </summary>
    Rtd,
}
