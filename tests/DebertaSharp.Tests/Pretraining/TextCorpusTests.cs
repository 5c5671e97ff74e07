using DebertaSharp.Pretraining;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Pretraining;

/// <summary>Streaming the corpus into template-wrapped examples and seeded, resumable batches.</summary>
public class TextCorpusTests
{
    private static readonly DebertaTokenizerBase Tokenizer = AutoTokenizer.FromPretrained(PretrainingSamples.TinyV3);

    [Fact]
    public void LinesBecomeClsTextSepWithWordStartsFromSentencePieceMarks()
    {
        using var tmp = new TempDir();
        string file = Path.Combine(tmp.Path, "a.txt");
        File.WriteAllLines(file, ["The river runs past the mill.", "", "   ", "Bread fills the street."]);
        var sequences = new TextCorpus([file]).Sequences(Tokenizer, 64).ToList();

        Assert.Equal(2, sequences.Count);
        var first = sequences[0];
        var pieces = Tokenizer.Tokenize("The river runs past the mill.");
        Assert.Equal([Tokenizer.ClsTokenId, .. pieces.Select(Tokenizer.TokenToId), Tokenizer.SepTokenId], first.InputIds);
        Assert.False(first.Maskable[0]);
        Assert.False(first.Maskable[^1]);
        Assert.All(first.Maskable.Skip(1).SkipLast(1), Assert.True);
        for (int i = 0; i < pieces.Count; i++)
            Assert.Equal(pieces[i][0] == WordBoundaries.SentencePieceMark || i == 0, first.WordStarts[i + 1]);
        Assert.Contains(false, first.WordStarts);   // the sentence has at least one piece continuing a word
    }

    [Fact]
    public void LongLinesAreCutIntoSeveralExamplesNotTruncated()
    {
        using var tmp = new TempDir();
        string file = Path.Combine(tmp.Path, "long.txt");
        string line = string.Join(" ", Enumerable.Repeat("the river runs past the old mill", 20));
        File.WriteAllText(file, line + "\n");
        int pieces = Tokenizer.Tokenize(line).Count;
        var sequences = new TextCorpus([file]).Sequences(Tokenizer, 16).ToList();

        Assert.All(sequences, s => Assert.InRange(s.Length, 3, 16));
        Assert.Equal(pieces, sequences.Sum(s => s.Length - 2));
        Assert.Equal((pieces + 13) / 14, sequences.Count);
        Assert.All(sequences, s => Assert.True(s.WordStarts[1]));
    }

    [Fact]
    public void FoldersAreReadInOrdinalOrderAndMissingPathsNamed()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(Path.Combine(tmp.Path, "d"));
        File.WriteAllText(Path.Combine(tmp.Path, "d", "b.txt"), "second\n");
        File.WriteAllText(Path.Combine(tmp.Path, "d", "a.txt"), "first\n");
        var corpus = new TextCorpus([Path.Combine(tmp.Path, "d")]);
        Assert.Equal(["first", "second"], corpus.Lines().Select(l => l.Text));
        Assert.Equal(1, corpus.Lines().First().Line);

        var missing = Path.Combine(tmp.Path, "nope.txt");
        var ex = Assert.Throws<DatasetException>(() => new TextCorpus([missing]));
        Assert.Contains(missing, ex.Message);
    }

    [Fact]
    public void AnEmptyCorpusIsAnErrorNamingItsFiles()
    {
        using var tmp = new TempDir();
        string file = Path.Combine(tmp.Path, "empty.txt");
        File.WriteAllText(file, "\n  \n");
        var stream = new PretrainingDataStream(new TextCorpus([file]), Tokenizer, new MlmCollator(Tokenizer), 4, 32, seed: 1);
        var ex = Assert.Throws<DatasetException>(() => stream.Epoch(0).ToList());
        Assert.Contains(file, ex.Message);
    }

    private static PretrainingDataStream SampleStream(int shuffleBuffer = 64) =>
        new(new TextCorpus([PretrainingSamples.Corpus]), Tokenizer, new MlmCollator(Tokenizer), batchSize: 8, maxLength: 32, seed: 7, shuffleBuffer);

    [Fact]
    public void AnEpochIsAPureFunctionOfSeedAndEpochAndSkippingMatchesDropping()
    {
        var stream = SampleStream();
        var a = stream.Epoch(3).ToList();
        var b = stream.Epoch(3).ToList();
        var skipped = stream.Epoch(3, skipBatches: 5).ToList();
        var other = stream.Epoch(4).ToList();

        int examples = stream.Corpus.Sequences(Tokenizer, 32).Count();   // 66 lines, the longer ones cut in two
        Assert.True(examples > 66);
        Assert.Equal((examples + 7) / 8, a.Count);
        Assert.Equal(examples, a.Sum(x => x.BatchSize));
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].InputIds, b[i].InputIds);
            Assert.Equal(a[i].Labels, b[i].Labels);
        }
        Assert.Equal(a.Count - 5, skipped.Count);
        for (int i = 0; i < skipped.Count; i++)
        {
            Assert.Equal(a[i + 5].InputIds, skipped[i].InputIds);
            Assert.Equal(a[i + 5].Labels, skipped[i].Labels);
        }
        Assert.NotEqual(a[0].Labels, other[0].Labels);
    }

    [Fact]
    public void TheShuffleBufferReordersEveryExampleExactlyOnce()
    {
        static List<string> Firsts(PretrainingDataStream s) =>
            s.Epoch(0).SelectMany(b => Enumerable.Range(0, b.BatchSize).Select(r => string.Join(",", Enumerable.Range(0, 4).Select(i => b.Labels[r, i] == MaskedBatch.IgnoreLabel ? b.InputIds[r, i] : b.Labels[r, i])))).ToList();
        var inOrder = Firsts(SampleStream(shuffleBuffer: 1));
        var shuffled = Firsts(SampleStream(shuffleBuffer: 64));
        Assert.NotEqual(inOrder, shuffled);
        Assert.Equal(inOrder.Order(StringComparer.Ordinal), shuffled.Order(StringComparer.Ordinal));
    }
}
