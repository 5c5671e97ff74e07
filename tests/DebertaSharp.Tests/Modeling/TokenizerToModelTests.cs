using DebertaSharp.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Tests.GoldenData;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Modeling;

/// <summary>Tokenizer output goes straight into the model: the v3 tokenizer fixture and the deberta-v3 golden model share the vocabulary.</summary>
public class TokenizerToModelTests
{
    [Fact]
    public void PaddedBatchRunsThroughTheModel()
    {
        var tokenizer = AutoTokenizer.FromPretrained(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizer-v3"));
        using var model = AutoModel.FromPretrained(new GoldenCase("deberta-v3").Folder);
        var batch = tokenizer.EncodeBatch(["Permission is hereby granted, free of charge.", "This program is free software."],
            new EncodeOptions { Padding = PaddingStrategy.Longest });
        var inputs = batch.ToInputs(model.Device);
        Assert.Equal(ScalarType.Int64, inputs.InputIds.dtype);
        Assert.Equal(batch.Encodings[0].InputIds.Select(i => (long)i), inputs.InputIds[0].data<long>().ToArray());
        using var _ = no_grad();
        using var output = model.Forward(inputs);
        Assert.Equal([2L, batch.SequenceLength, 1001], output.Logits!.shape);
    }
}
