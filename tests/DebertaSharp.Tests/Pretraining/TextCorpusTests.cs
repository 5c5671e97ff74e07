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
    public void FoldersGiveTextFilesOnlyAndReportTheRest()
    {
        // A checkpoint folder used as a corpus: only corpus.txt is text by extension and content.
        using var tmp = new TempDir();
        string d = Path.Combine(tmp.Path, "d");
        Directory.CreateDirectory(Path.Combine(d, "sub"));
        File.WriteAllText(Path.Combine(d, "corpus.txt"), "a line of text\n");
        File.WriteAllText(Path.Combine(d, "README.md"), "# not corpus\n");
        File.WriteAllText(Path.Combine(d, "config.json"), "{}");
        File.Copy(Path.Combine(PretrainingSamples.TinyV3, "spm.model"), Path.Combine(d, "spm.model"));
        File.WriteAllBytes(Path.Combine(d, "sub", "binary.txt"), [0x41, 0x00, 0x42]);
        File.WriteAllBytes(Path.Combine(d, "sub", "latin1.txt"), [0x63, 0x61, 0x66, 0xE9, 0x0A]);
        File.WriteAllText(Path.Combine(d, "sub", "more.TEXT"), "another line\n");

        var corpus = new TextCorpus([d]);
        Assert.Equal([Path.Combine(d, "corpus.txt"), Path.Combine(d, "sub", "more.TEXT")], corpus.Files);
        var skipped = corpus.Skipped.ToDictionary(s => Path.GetRelativePath(d, s.File), s => s.Reason);
        Assert.Equal(["README.md", "config.json", "spm.model", "sub/binary.txt", "sub/latin1.txt"], skipped.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("extension '.md'", skipped["README.md"]);
        Assert.Contains("NUL", skipped["sub/binary.txt"]);
        Assert.Contains("UTF-8", skipped["sub/latin1.txt"]);

        // The list is overridable; a file named directly is read whatever its extension, but never when binary.
        Assert.Equal([Path.Combine(d, "README.md")], new TextCorpus([d], ["md"]).Files);
        Assert.Equal([Path.GetFullPath(Path.Combine(d, "README.md"))], new TextCorpus([Path.Combine(d, "README.md")]).Files);
        var ex = Assert.Throws<DatasetException>(() => new TextCorpus([Path.Combine(d, "spm.model")]));
        Assert.Contains("spm.model", ex.Message);
        ex = Assert.Throws<DatasetException>(() => new TextCorpus([Path.Combine(d, "sub")], [".json"]));
        Assert.Contains("holds no text files", ex.Message);
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
            s.Epoch(0).SelectMany(b => Enumerable.Range(0, b.BatchSize).Select(r => string.Join(",", Enumerable.Range(0, 4).Select(i => i >= b.InputIds[r].Count ? b.PadTokenId : b.Labels[r][i] == MaskedBatch.IgnoreLabel ? b.InputIds[r][i] : b.Labels[r][i])))).ToList();
        var inOrder = Firsts(SampleStream(shuffleBuffer: 1));
        var shuffled = Firsts(SampleStream(shuffleBuffer: 64));
        Assert.NotEqual(inOrder, shuffled);
        Assert.Equal(inOrder.Order(StringComparer.Ordinal), shuffled.Order(StringComparer.Ordinal));
    }
}
