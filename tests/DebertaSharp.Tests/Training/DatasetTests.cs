using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training.Data;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Training;

public class DatasetTests
{
    internal static DebertaTokenizerBase Tokenizer() => AutoTokenizer.FromPretrained(DebertaSharp.Tests.Tokenization.GoldenData.Folder("tokenizer-v3"));

    private static string Write(TempDir dir, string name, string text)
    {
        string path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void TextPairsAreTokenisedPaddedPerBatchAndLabelled()
    {
        using var dir = new TempDir();
        var tokenizer = Tokenizer();
        string path = Write(dir, "nli.csv", "premise,hypothesis,label\n" +
            "\"A licence grants rights.\",\"Rights are granted.\",entailment\n" +
            "Short.,\"This software is provided as is, without warranty of any kind.\",neutral\n" +
            "x,y,contradiction\n");
        var data = TextClassificationDataset.Load(path, tokenizer, new TextClassificationDatasetOptions { TextColumn = "premise", PairColumn = "hypothesis" });
        Assert.Equal(["contradiction", "entailment", "neutral"], data.Labels);
        Assert.Equal([1L, 2, 0], data.ClassIndices);
        var expected = tokenizer.Encode("Short.", "This software is provided as is, without warranty of any kind.");
        Assert.Equal(expected.Length, data.LengthOf(1));

        using var scope = NewDisposeScope();
        var batch = data.Collate([2, 1], CPU);
        int longest = expected.Length;
        Assert.Equal(new long[] { 2, longest }, batch.InputIds.shape);
        Assert.Equal(expected.InputIds.Select(i => (long)i), batch.InputIds[1].data<long>().ToArray());
        Assert.Equal(expected.TokenTypeIds.Select(i => (long)i), batch.TokenTypeIds![1].data<long>().ToArray());
        // Row 0 ("x", "y") is short: padded with the pad id and masked.
        long realTokens = tokenizer.Encode("x", "y").Length;
        Assert.Equal(realTokens, batch.AttentionMask![0].sum().item<long>());
        Assert.Equal(tokenizer.PadTokenId, batch.InputIds[0, -1].item<long>());
        Assert.Equal(new long[] { 0, 2 }, batch.Labels!.data<long>().ToArray());
    }

    [Fact]
    public void EvaluationLabelsOutsideTheTrainingSetAreErrorsWithFileAndLine()
    {
        using var dir = new TempDir();
        var tokenizer = Tokenizer();
        var train = TextClassificationDataset.Load(Write(dir, "train.csv", "text,label\na,pos\nb,neg\n"), tokenizer, new TextClassificationDatasetOptions());
        string eval = Write(dir, "eval.csv", "text,label\na,pos\nb,neutral\n");
        var e = Assert.Throws<DatasetException>(() => TextClassificationDataset.Load(eval, tokenizer, train.Options));
        Assert.Contains("eval.csv:3: label 'neutral' is not in the label set [neg, pos]", e.Message);

        Assert.Contains("has no column 'sentence'", Assert.Throws<DatasetException>(() =>
            TextClassificationDataset.Load(eval, tokenizer, new TextClassificationDatasetOptions { TextColumn = "sentence" })).Message);
        Assert.Contains("r.csv:2: regression label 'high' is not a finite number", Assert.Throws<DatasetException>(() =>
            TextClassificationDataset.Load(Write(dir, "r.csv", "text,label\na,high\n"), tokenizer, new TextClassificationDatasetOptions { Regression = true })).Message);
        Assert.Contains("only one label", Assert.Throws<DatasetException>(() =>
            TextClassificationDataset.Load(Write(dir, "one.csv", "text,label\na,x\nb,x\n"), tokenizer, new TextClassificationDatasetOptions())).Message);
        Assert.Contains("is empty", Assert.Throws<DatasetException>(() =>
            TextClassificationDataset.Load(Write(dir, "empty.jsonl", "\n"), tokenizer, new TextClassificationDatasetOptions())).Message);
    }

    [Fact]
    public void NumericLabelsSortNumerically()
    {
        Assert.Equal(["-1", "2", "10"], LabelSet.Sorted(["10", "2", "-1", "2"]));
        Assert.Equal(["B", "a", "b"], LabelSet.Sorted(["b", "a", "B"]));
    }

    [Fact]
    public void TokenLabelsGoToTheFirstSubwordOfEachWord()
    {
        using var dir = new TempDir();
        var tokenizer = Tokenizer();
        string path = Write(dir, "ner.conll", "Permission O\nGranted B-X\nMerchantability I-X\nhereby O\n\nCopyright B-Y\n");
        var data = TokenClassificationDataset.Load(path, tokenizer, new TokenClassificationDatasetOptions());
        Assert.Equal(["B-X", "B-Y", "I-X", "O"], data.Labels);
        using var scope = NewDisposeScope();
        var batch = data.Collate([0, 1], CPU);
        var labels = batch.Labels![0].data<long>().ToArray();
        var words = data.Sentences[0].Words;
        // One scored token per word, in word order, carrying its tag; the rest −100.
        Assert.Equal([3L, 0, 2, 3], labels.Where(l => l != -100).ToArray());
        Assert.Equal(-100, labels[0]);                                             // [CLS]
        var (wordOfToken, encoding) = TokenClassificationDataset.EncodeWords(tokenizer, words, new EncodeOptions());
        for (int i = 0; i < labels.Length && i < encoding.Length; i++)
            if (labels[i] != -100) Assert.StartsWith(encoding.Tokens[i].TrimStart('▁'), words[wordOfToken[i]]);
        Assert.True(encoding.Length > words.Count + 2, "the test needs a word split into several pieces");
        // Padding of the shorter sentence is ignored too.
        Assert.Equal(-100, batch.Labels[1, -1].item<long>());

        Assert.Contains("ner2.conll:2: label 'B-Z' is not in the label set", Assert.Throws<DatasetException>(() =>
            TokenClassificationDataset.Load(Write(dir, "ner2.conll", "a O\nb B-Z\n"), tokenizer, new TokenClassificationDatasetOptions { Labels = data.Labels })).Message);
    }

    [Fact]
    public void QuestionAnsweringWindowsLabelTheAnswerTokens()
    {
        using var dir = new TempDir();
        var tokenizer = Tokenizer();
        string context = string.Join(" ", Enumerable.Range(0, 12).Select(i => $"Clause {i} of this licence permits copying.")) +
                         " The Software is provided as is, without warranty.";
        int start = context.IndexOf("without warranty", StringComparison.Ordinal);
        string json = $$"""
            {"data": [{"paragraphs": [{"context": "{{context}}", "qas": [
              {"id": "a", "question": "How is the Software provided?", "answers": [{"text": "without warranty", "answer_start": {{start}}}]}
            ]}]}]}
            """;
        var data = QuestionAnsweringDataset.Load(Write(dir, "qa.json", json), tokenizer,
            new QuestionAnsweringDatasetOptions { MaxLength = 48, DocStride = 8, MaxQuestionLength = 16 });
        Assert.True(data.Count > 3, $"expected several windows, got {data.Count}");
        Assert.Equal(1, data.ExampleCount);
        using var scope = NewDisposeScope();
        var batch = data.Collate(Enumerable.Range(0, data.Count).ToList(), CPU);
        var starts = batch.StartPositions!.data<long>().ToArray();
        var ends = batch.EndPositions!.data<long>().ToArray();
        // Only the last window(s) hold the answer; the others point at [CLS].
        Assert.Equal(0, starts[0]);
        Assert.Equal(0, ends[0]);
        int last = data.Count - 1;
        Assert.True(starts[last] > 0 && ends[last] >= starts[last]);
        var answerIds = batch.InputIds[last].data<long>().Skip((int)starts[last]).Take((int)(ends[last] - starts[last] + 1)).Select(i => (int)i);
        Assert.Equal("without warranty", tokenizer.Decode(answerIds).Trim());
        Assert.All(Enumerable.Range(0, data.Count), i => Assert.True(data.LengthOf(i) <= 48));
    }

    [Fact]
    public void SplitHoldsOutExamplesDeterministicallyAndKeepsQuestionWindowsTogether()
    {
        using var dir = new TempDir();
        var tokenizer = Tokenizer();
        var data = TextClassificationDataset.Load(Write(dir, "d.csv", "text,label\n" + string.Join("\n", Enumerable.Range(0, 50).Select(i => $"item {i},{i % 3}"))),
            tokenizer, new TextClassificationDatasetOptions());
        var (train, heldOut) = data.Split(0.2, seed: 4);
        Assert.Equal(10, heldOut.Count);
        Assert.Equal(40, train.Count);
        Assert.Equal(Enumerable.Range(0, 50), train.Items.Concat(heldOut.Items).Order());
        Assert.Equal(heldOut.Items, data.Split(0.2, seed: 4).HeldOut.Items);
        Assert.NotEqual(heldOut.Items, data.Split(0.2, seed: 5).HeldOut.Items);
        using (var scope = NewDisposeScope())
            Assert.Equal(data.ClassIndices[heldOut.Items[1]], heldOut.Collate([1], CPU).Labels!.item<long>());
        Assert.Throws<DatasetException>(() => data.Split(0.001, 1));

        string contexts = string.Join(",", Enumerable.Range(0, 6).Select(q => $$"""
            {"context": "{{string.Join(" ", Enumerable.Repeat("The licence grants rights to copy.", 8))}}", "qas": [{"id": "{{q}}", "question": "What?", "answers": [{"text": "licence", "answer_start": 4}]}]}
            """));
        var qa = QuestionAnsweringDataset.Load(Write(dir, "qa.json", $$"""{"data": [{"paragraphs": [{{contexts}}]}]}"""), tokenizer,
            new QuestionAnsweringDatasetOptions { MaxLength = 32, DocStride = 4, MaxQuestionLength = 8 });
        Assert.True(qa.Count > 12);
        var (qaTrain, qaHeldOut) = qa.Split(0.5, seed: 1);
        Assert.Equal(3, qaHeldOut.ExampleCount);
        Assert.Empty(qaTrain.Items.Select(qa.ExampleOf).Intersect(qaHeldOut.Items.Select(qa.ExampleOf)));
        Assert.Equal(qa.Count, qaTrain.Count + qaHeldOut.Count);
    }

    [Fact]
    public void MultipleChoiceBatchesAreBatchByChoiceByLength()
    {
        using var dir = new TempDir();
        string path = Write(dir, "mc.jsonl",
            "{\"ctx\": \"The licence\", \"e0\": \"grants rights\", \"e1\": \"is a fish\", \"e2\": \"sings\", \"label\": 0}\n" +
            "{\"ctx\": \"Warranty\", \"e0\": \"is long\", \"e1\": \"is disclaimed entirely here\", \"e2\": \"x\", \"label\": 1}\n");
        var data = MultipleChoiceDataset.Load(path, Tokenizer(), new MultipleChoiceDatasetOptions { TextColumn = "ctx", ChoiceColumns = ["e0", "e1", "e2"] });
        using var scope = NewDisposeScope();
        var batch = data.Collate([0, 1], CPU);
        Assert.Equal(new long[] { 2, 3, data.LengthOf(1) }, batch.InputIds.shape);
        Assert.Equal(new long[] { 0, 1 }, batch.Labels!.data<long>().ToArray());
        Assert.Contains("mc2.jsonl:1: label '3' is not a choice index 0…2", Assert.Throws<DatasetException>(() =>
            MultipleChoiceDataset.Load(Write(dir, "mc2.jsonl", "{\"ctx\": \"a\", \"e0\": \"b\", \"e1\": \"c\", \"e2\": \"d\", \"label\": 3}\n"),
                Tokenizer(), new MultipleChoiceDatasetOptions { TextColumn = "ctx", ChoiceColumns = ["e0", "e1", "e2"] })).Message);
    }

    [Fact]
    public void BatchPlansAreDeterministicCompleteAndBucketingCutsPadding()
    {
        using var dir = new TempDir();
        var random = new Random(1);
        var lines = Enumerable.Range(0, 200).Select(i => $"{string.Join(" ", Enumerable.Repeat("licence", 1 + random.Next(40)))},{i % 2}");
        var data = TextClassificationDataset.Load(Write(dir, "d.csv", "text,label\n" + string.Join("\n", lines)), Tokenizer(), new TextClassificationDatasetOptions());
        foreach (bool bucket in new[] { false, true })
        {
            var a = BatchPlan.ForEpoch(data, 8, seed: 3, epoch: 1, bucket);
            Assert.Equal(a, BatchPlan.ForEpoch(data, 8, 3, 1, bucket));
            Assert.NotEqual(a, BatchPlan.ForEpoch(data, 8, 3, 2, bucket));
            Assert.Equal(Enumerable.Range(0, 200), a.SelectMany(b => b).Order());
            Assert.Equal(25, a.Count);
        }
        long Padded(IReadOnlyList<int[]> plan) => plan.Sum(b => (long)b.Length * b.Max(data.LengthOf));
        Assert.True(Padded(BatchPlan.ForEpoch(data, 8, 3, 0, true)) < 0.8 * Padded(BatchPlan.ForEpoch(data, 8, 3, 0, false)));
    }
}

public class FineTuningModelTests
{
    [Fact]
    public void AnotherHeadsCheckpointGivesItsEncoderAndANewHead()
    {
        using var dir = new TempDir();
        string conll = Path.Combine(dir.Path, "ner.conll");
        File.WriteAllText(conll, "Permission B-X\ngranted I-X\nfreely O\n");
        var data = TokenClassificationDataset.Load(conll, DatasetTests.Tokenizer(), new TokenClassificationDatasetOptions());
        string golden = new DebertaSharp.Tests.GoldenData.GoldenCase("deberta-v3-heads/seqcls").Folder;

        using var model = DebertaSharp.Training.FineTuningModel.FromPretrained(golden, data);
        Assert.IsType<DebertaSharp.Modeling.DebertaForTokenClassification>(model);
        Assert.Equal(["B-X", "I-X", "O"], model.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value));
        var report = model.LoadReport!;
        Assert.Equal(["classifier.bias", "classifier.weight"], report.Missing.Order(StringComparer.Ordinal));
        Assert.Contains(report.Ignored, i => i.Key == "classifier.weight" && i.Reason.Contains("DebertaV2ForSequenceClassification head", StringComparison.Ordinal));
        Assert.Empty(report.Unexpected);
        using var source = DebertaSharp.Modeling.DebertaForSequenceClassification.FromPretrained(golden);
        var expected = source.state_dict();
        foreach (var (name, tensor) in model.state_dict().Where(kv => kv.Key.StartsWith("deberta.", StringComparison.Ordinal)))
            Assert.True(tensor.eq(expected[name]).all().item<bool>(), name);

        // The same head with as many labels keeps the checkpoint's classifier.
        using var same = DebertaSharp.Training.FineTuningModel.FromPretrained(golden, new TwoLabels());
        Assert.Empty(same.LoadReport!.Missing);
        Assert.True(same.state_dict()["classifier.weight"].eq(expected["classifier.weight"]).all().item<bool>());

        // (folder, task, device, dtype) as every FromPretrained: both paths load in the asked type, the new head too.
        foreach (FineTuningDataset task in new FineTuningDataset[] { data, new TwoLabels() })
        {
            using var wide = DebertaSharp.Training.FineTuningModel.FromPretrained(golden, task, TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float64);
            Assert.All(wide.parameters(), p => Assert.Equal(TorchSharp.torch.ScalarType.Float64, p.dtype));
            var name = "deberta.encoder.layer.0.attention.self.query_proj.weight";
            Assert.True(wide.state_dict()[name].eq(expected[name].to(TorchSharp.torch.ScalarType.Float64)).all().item<bool>());
        }
    }

    private sealed class TwoLabels() : FineTuningDataset("two labels", 0)
    {
        public override DebertaSharp.Modeling.HeadKind Head => DebertaSharp.Modeling.HeadKind.SequenceClassification;
        public override int Count => 0;
        public override string DefaultMetric => "accuracy";
        public override int LengthOf(int index) => 0;
        public override DebertaSharp.Modeling.DebertaInputs Collate(IReadOnlyList<int> indices, TorchSharp.torch.Device device) => throw new NotSupportedException();
        public override TaskEvaluator CreateEvaluator() => throw new NotSupportedException();
        public override void ConfigureModel(DebertaSharp.Configuration.DebertaConfig config) => config.SetLabels(["no", "yes"]);
    }
}
