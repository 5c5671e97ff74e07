using DebertaSharp.Pipelines;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Pipelines;

/// <summary>Cross-encoder reranking against the classifier's own logits of each (query, document) pair, run one at a time.</summary>
public class RerankPipelineTests
{
    private const string Query = "Who may copy the software?";

    private static readonly string[] Documents =
    [
        "Permission is hereby granted, free of charge, to any person obtaining a copy.",
        "The weather was cold.",
        "THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND.",
        "Copies may be made.",
        "A soccer game with multiple males playing.",
    ];

    [Fact]
    public void OneLabelCheckpointsRankBySigmoidOfTheLogit()
    {
        using var reranker = RerankPipeline.FromPretrained(TaskModels.Regression);      // one label
        reranker.BatchSize = 2;                                                         // padding across documents
        var ranked = reranker.Rerank(Query, Documents);
        double[] expected = [.. Documents.Select(d => Direct.Sigmoid(Direct.Logits(reranker.Model, reranker.Tokenizer.Encode(Query, d))[0]))];
        Assert.Equal(Enumerable.Range(0, Documents.Length).OrderByDescending(i => expected[i]), ranked.Select(r => r.Index));
        foreach (RankedDocument r in ranked)
        {
            Assert.Equal(expected[r.Index], r.Score, 1e-5);
            Assert.Equal(Documents[r.Index], r.Text);
        }

        var raw = reranker.Rerank(Query, Documents, new RerankOptions { RawScores = true, TopK = 2 });
        Assert.Equal(ranked.Take(2).Select(r => r.Index), raw.Select(r => r.Index));          // sigmoid is monotone
        Assert.Equal(Direct.Logits(reranker.Model, reranker.Tokenizer.Encode(Query, Documents[raw[0].Index]))[0], raw[0].Score, 1e-5);
    }

    [Fact]
    public void SeveralLabelsScoreWithTheNamedOrEntailmentClassProbability()
    {
        using var nli = RerankPipeline.FromPretrained(TaskModels.Nli);                      // contradiction, neutral, entailment
        double[][] probabilities = [.. Documents.Select(d => Direct.Softmax(Direct.Logits(nli.Model, nli.Tokenizer.Encode(Query, d))))];
        var entail = nli.Rerank(Query, Documents);
        Assert.Equal(Enumerable.Range(0, Documents.Length).OrderByDescending(i => probabilities[i][2]), entail.Select(r => r.Index));
        Assert.Equal(probabilities[entail[0].Index][2], entail[0].Score, 1e-5);

        var neutral = nli.Rerank(Query, Documents, new RerankOptions { Label = "neutral" });
        Assert.Equal(Enumerable.Range(0, Documents.Length).OrderByDescending(i => probabilities[i][1]), neutral.Select(r => r.Index));

        using var sentiment = RerankPipeline.FromPretrained(TaskModels.Sentiment);          // no "entail…" label
        var error = Assert.Throws<DebertaConfigurationException>(() => sentiment.Rerank(Query, Documents));
        Assert.Contains("negative, positive", error.Message);
        Assert.Contains("unknown", Assert.Throws<DebertaConfigurationException>(() => sentiment.Rerank(Query, Documents, new RerankOptions { Label = "unknown" })).Message);
    }

    [Fact]
    public void LongPairsLoseDocumentTokensOnlySoTheQueryIsKept()
    {
        using var reranker = RerankPipeline.FromPretrained(TaskModels.Regression);
        const int maxLength = 14;
        var ranked = reranker.Rerank(Query, Documents, new RerankOptions { MaxLength = maxLength });
        foreach (RankedDocument r in ranked)
        {
            TokenEncoding pair = reranker.Tokenizer.Encode(Query, Documents[r.Index], new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.OnlySecond });
            Assert.True(pair.Length <= maxLength);
            Assert.Equal(reranker.Tokenizer.Encode(Query).Length - 2, pair.SequenceIds.Count(s => s == 0));   // the whole query: [CLS] q [SEP] less the specials
            Assert.Equal(Direct.Sigmoid(Direct.Logits(reranker.Model, pair)[0]), r.Score, 1e-5);
        }

        var error = Assert.Throws<DebertaInputException>(() => reranker.Rerank(Query, Documents, new RerankOptions { MaxLength = 6 }));
        Assert.Contains("query is too long", error.Message);
    }

    [Fact]
    public async Task APerCallBatchSizeNeverChangesThePipelinesOwnWhileItRuns()
    {
        // RerankOptions.BatchSize is for one call: another thread reading (or batching with) the pipeline meanwhile
        // must see the pipeline's own batch size, not the call's (it was swapped in and back around the forward).
        using var reranker = RerankPipeline.FromPretrained(TaskModels.Regression);
        var oneAtATime = new RerankOptions { BatchSize = 1 };
        float[] expected = reranker.Score(Query, Documents, oneAtATime);
        var seen = new HashSet<int>();
        var scoring = Task.Run(() =>
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(expected, reranker.Score(Query, Documents, oneAtATime));
            }
        });
        while (!scoring.IsCompleted)
        {
            seen.Add(reranker.BatchSize);
        }

        await scoring;
        Assert.Equal([8], seen);
    }
}
