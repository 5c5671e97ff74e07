using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>DebertaV2Tokenizer facts of Fixtures/tokenizer-v3 beyond the shared cases of <see cref="TokenizerGoldenTests"/>.</summary>
public class DebertaV2TokenizerGoldenTests
{
    [Fact]
    public void VocabularyMatchesHuggingFace()
    {
        DebertaV2Tokenizer t = TokenizerGoldenTests.Tokenizer<DebertaV2Tokenizer>(TokenizerGoldenTests.V3);
        Assert.Equal(1000, t.PieceCount);
        Assert.Equal(1001, t.VocabularySize);
        Assert.Equal((0, 1, 2, 3, 1000), (t.PadTokenId, t.ClsTokenId, t.SepTokenId, t.UnkTokenId, t.MaskTokenId!.Value));
        Assert.Null(t.ModelMaxLength);
        Assert.Equal("[MASK]", t.IdToToken(1000));
        Assert.Equal(1000, t.TokenToId("[MASK]"));
    }
}
