using DebertaSharp.Modeling;
using DebertaSharp.Pipelines;
using DebertaSharp.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>fill-mask against direct model calls: HF's plain head on the golden v3 MLM, the Enhanced Mask Decoder on a model that has it.</summary>
public class FillMaskPipelineTests
{
    private const string Text = "Permission is hereby [MASK], free of charge.";

    /// <summary>Top-k (id, probability) at every mask of <paramref name="text"/>, from one unbatched forward pass.</summary>
    private static List<(long Id, float Score)[]> Direct(DebertaForMaskedLM model, DebertaTokenizerBase tokenizer, string text, int k, bool emd)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        TokenEncoding e = tokenizer.Encode(text);
        var inputs = new BatchEncoding([e]).ToInputs(model.Device);
        Tensor logits;                                                    // [masks, vocab]
        var isMask = inputs.InputIds.eq(tokenizer.MaskTokenId!.Value);
        if (emd)
        {
            logits = model.ForwardMaskedTargets(inputs, isMask).Logits;
        }
        else
        {
            using var output = model.Forward(inputs);
            logits = output.Logits![0].index_select(0, isMask[0].nonzero().view(-1));
        }

        var (values, ids) = logits.softmax(-1).narrow(1, 0, tokenizer.VocabularySize).topk(k, dim: 1);
        var result = new List<(long, float)[]>();
        for (int m = 0; m < values.shape[0]; m++)
        {
            result.Add(Enumerable.Range(0, k).Select(j => (ids[m, j].item<long>(), values[m, j].item<float>())).ToArray());
        }

        return result;
    }

    [Fact]
    public void PlainHeadGivesTheModelsTopTokens()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        Assert.False(fill.UsesEnhancedMaskDecoder);
        var masks = fill.Predict(Text, new FillMaskOptions { TopK = 7 });
        var expected = Direct((DebertaForMaskedLM)fill.Model, fill.Tokenizer, Text, 7, emd: false);
        MaskPredictions mask = Assert.Single(masks);
        Assert.Equal("[MASK]", Text[mask.Span.Start..mask.Span.End]);
        Assert.Equal(expected[0].Select(p => (int)p.Id), mask.Predictions.Select(p => p.TokenId));
        for (int j = 0; j < 7; j++)
        {
            Assert.Equal(expected[0][j].Score, mask.Predictions[j].Score, 1e-5);
        }
    }

    [Fact]
    public void EnhancedMaskDecoderIsUsedWhenTheCheckpointHasIt()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.MaskedLMWithEmd);
        Assert.True(fill.UsesEnhancedMaskDecoder);
        var model = (DebertaForMaskedLM)fill.Model;
        const string text = "The [MASK] is free software; [MASK] can redistribute it.";
        var emd = Direct(model, fill.Tokenizer, text, 5, emd: true);
        var plain = Direct(model, fill.Tokenizer, text, 5, emd: false);
        var masks = fill.Predict(text, new FillMaskOptions { TopK = 5 });
        Assert.True(model.UseEnhancedMaskDecoder);
        Assert.Equal(2, masks.Count);
        for (int m = 0; m < 2; m++)
        {
            Assert.Equal(emd[m].Select(p => (int)p.Id), masks[m].Predictions.Select(p => p.TokenId));
            for (int j = 0; j < 5; j++)
            {
                Assert.Equal(emd[m][j].Score, masks[m].Predictions[j].Score, 1e-5);
            }
        }

        // The decoder changes the answer: the plain head's probabilities differ.
        Assert.NotEqual(plain[0].Select(p => p.Score), emd[0].Select(p => p.Score));
    }

    [Fact]
    public void CandidatesCarryTheirTokenTextAndFilledSequence()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        var tokenizer = fill.Tokenizer;
        foreach (FillMaskPrediction p in fill.Predict(Text)[0].Predictions)
        {
            Assert.Equal(tokenizer.IdToToken(p.TokenId), p.Token);
            Assert.Equal(tokenizer.Decode([p.TokenId]), p.TokenString);
            var ids = tokenizer.Encode(Text).InputIds.Select(i => i == tokenizer.MaskTokenId ? p.TokenId : i).ToList();
            Assert.Equal(tokenizer.Decode(ids, skipSpecialTokens: true), p.Sequence);
            Assert.DoesNotContain("[MASK]", p.Sequence);
        }

        Assert.Equal(5, fill.Predict(Text)[0].Predictions.Count);
    }

    [Fact]
    public void WithTwoMasksEachSequenceKeepsTheOtherMask()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        var masks = fill.Predict("[MASK] is hereby [MASK].");
        Assert.Equal([1, 4], masks.Select(m => m.TokenIndex));
        Assert.All(masks, m => Assert.All(m.Predictions, p => Assert.Contains("[MASK]", p.Sequence)));
    }

    [Fact]
    public void BatchedTextsGiveTheSameAnswersAsOneByOne()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        string[] texts = [Text, "This [MASK] is short.", "A much longer text about the licence terms, copies and [MASK] of the software and documentation."];
        fill.BatchSize = 2;
        var batched = fill.Predict(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            var single = fill.Predict(texts[i]);
            Assert.Equal(single[0].Predictions.Select(p => p.TokenId), batched[i][0].Predictions.Select(p => p.TokenId));
            for (int j = 0; j < single[0].Predictions.Count; j++)
            {
                Assert.Equal(single[0].Predictions[j].Score, batched[i][0].Predictions[j].Score, 1e-5);
            }
        }
    }

    [Fact]
    public void TargetsRestrictTheCandidates()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        var all = Direct((DebertaForMaskedLM)fill.Model, fill.Tokenizer, Text, 1001, emd: false)[0].ToDictionary(p => (int)p.Id, p => p.Score);
        string[] targets = ["▁free", "software", "▁the"];
        var picked = fill.Predict(Text, new FillMaskOptions { Targets = targets, TopK = 10 })[0].Predictions;
        Assert.Equal(3, picked.Count);
        Assert.Equal(
            targets.Select(t => fill.Tokenizer.TokenToId(t) is var id && id != fill.Tokenizer.UnkTokenId ? id : fill.Tokenizer.TokenToId(fill.Tokenizer.Tokenize(t)[0])).OrderBy(i => i),
            picked.Select(p => p.TokenId).OrderBy(i => i));
        Assert.All(picked, p => Assert.Equal(all[p.TokenId], p.Score, 6));
        Assert.True(picked[0].Score >= picked[1].Score && picked[1].Score >= picked[2].Score);
    }

    [Theory]
    [InlineData("There is no mask here.", "no [MASK]")]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    public void BadTextsAreNamed(string text, string message)
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        var ex = Assert.Throws<DebertaInputException>(() => fill.Predict(text));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void BadOptionsAreNamed()
    {
        using var fill = FillMaskPipeline.FromPretrained(TaskModels.GoldenMaskedLM);
        Assert.Contains("top_k", Assert.Throws<DebertaInputException>(() => fill.Predict(Text, new FillMaskOptions { TopK = 0 })).Message);
        Assert.Contains("not one token", Assert.Throws<DebertaInputException>(() => fill.Predict(Text, new FillMaskOptions { Targets = ["redistribution"] })).Message);
        Assert.Contains("empty", Assert.Throws<DebertaInputException>(() => fill.Predict(Text, new FillMaskOptions { Targets = [] })).Message);
        fill.MaxLength = 6;
        Assert.Contains("at most 6", Assert.Throws<DebertaInputException>(() => fill.Predict(Text)).Message);
    }

    [Fact]
    public void AModelWithAnotherHeadIsRefused()
    {
        var ex = Assert.Throws<DebertaConfigurationException>(() => FillMaskPipeline.FromPretrained(TaskModels.Sentiment));
        Assert.Contains("MaskedLM", ex.Message);
        Assert.Contains("DebertaV2ForSequenceClassification", ex.Message);
    }

    [Fact]
    public void ATokenizerLargerThanTheVocabularyIsRefused()
    {
        using var model = DebertaForMaskedLM.FromPretrained(Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden", "emd-v3"));
        var ex = Assert.Throws<DebertaConfigurationException>(() => new FillMaskPipeline(model, AutoTokenizer.FromPretrained(TaskModels.Tokenizer)));
        Assert.Contains("1001", ex.Message);
        Assert.Contains("128", ex.Message);
    }

    [Fact]
    public void RunningLeavesNoTensorsAndKeepsTheTrainingState()
    {
        using var model = DebertaForMaskedLM.FromPretrained(TaskModels.GoldenMaskedLM);
        using var fill = new FillMaskPipeline(model, AutoTokenizer.FromPretrained(TaskModels.GoldenMaskedLM));
        model.train();
        fill.Predict(Text);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var a = fill.Predict([Text, "Two [MASK] and [MASK]."]);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(model.training);
        var b = fill.Predict([Text, "Two [MASK] and [MASK]."]);
        Assert.Equal(a[0][0].Predictions, b[0][0].Predictions);    // dropout was off
    }
}
