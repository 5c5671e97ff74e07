using DebertaSharp.Tests.Modeling;
using DebertaSharp.Training.Data;
using Xunit;

namespace DebertaSharp.Tests.Training;

public class DataFileTests
{
    private static string Write(TempDir dir, string name, string text)
    {
        string path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void CsvWithQuotesCommasAndLineBreaks()
    {
        using var dir = new TempDir();
        string path = Write(dir, "d.csv", "text,label\r\n\"Hello, \"\"world\"\"\",pos\n\n\"two\nlines\",neg\nplain,pos\n");
        var data = TabularFile.Read(path);
        Assert.Equal(["text", "label"], data.Columns);
        Assert.Equal(3, data.Records.Count);
        Assert.Equal("Hello, \"world\"", data.Records[0].Fields["text"]);
        Assert.Equal("two\nlines", data.Records[1].Fields["text"]);
        Assert.Equal([2, 4, 6], data.Records.Select(r => r.Line));
    }

    [Fact]
    public void TsvAndJsonLines()
    {
        using var dir = new TempDir();
        var tsv = TabularFile.Read(Write(dir, "d.tsv", "sentence\tlabel\nit's \"fine\"\t1\n"));
        Assert.Equal("it's \"fine\"", tsv.Records[0].Fields["sentence"]);
        var jsonl = TabularFile.Read(Write(dir, "d.jsonl", "{\"text\": \"a\", \"label\": 2}\n\n{\"text\": \"b\", \"label\": \"x\", \"extra\": null}\n"));
        Assert.Equal(["text", "label", "extra"], jsonl.Columns);
        Assert.Equal("2", jsonl.Records[0].Fields["label"]);
        Assert.Equal(3, jsonl.Records[1].Line);
        Assert.Null(jsonl.Records[1].Fields["extra"]);
    }

    [Theory]
    [InlineData("d.csv", "", "is empty")]
    [InlineData("d.csv", "text,label\n", "has no records (only a header)")]
    [InlineData("d.csv", "text,label\na,b\nc\n", "d.csv:3: expected 2 fields (text, label) but found 1")]
    [InlineData("d.csv", "text,label\n\"open,b\n", "d.csv:2: a quoted field is never closed")]
    [InlineData("d.csv", "text,label\nab\"c,d\n", "d.csv:2: a quote inside an unquoted field")]
    [InlineData("d.csv", "text,text\na,b\n", "d.csv:1: column 'text' appears twice")]
    [InlineData("d.tsv", "a\tb\n1\t2\t3\n", "d.tsv:2: expected 2 fields")]
    [InlineData("d.jsonl", "{\"a\": 1}\n[1, 2]\n", "d.jsonl:2: each line must be a JSON object")]
    [InlineData("d.jsonl", "{\"a\": 1}\n{\"a\": \n", "d.jsonl:2: not valid JSON")]
    [InlineData("d.txt", "x", "cannot tell the format")]
    public void MalformedTablesNameFileAndLine(string name, string text, string message)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DatasetException>(() => TabularFile.Read(Write(dir, name, text)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MissingColumnListsTheColumns()
    {
        using var dir = new TempDir();
        var data = TabularFile.Read(Write(dir, "d.csv", "sentence,label\na,b\n"));
        var e = Assert.Throws<DatasetException>(() => data.RequireColumns("text", "label"));
        Assert.Contains("has no column 'text' (its columns: 'sentence', 'label')", e.Message);
        Assert.Throws<DatasetException>(() => TabularFile.Read(Path.Combine(dir.Path, "missing.csv")));
    }

    [Fact]
    public void ConllSentencesAndErrors()
    {
        using var dir = new TempDir();
        string path = Write(dir, "d.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter\tB-PER\nBlackburn\tI-PER\n");
        var sentences = ConllFile.Read(path);
        Assert.Equal(2, sentences.Count);
        Assert.Equal(["EU", "rejects"], sentences[0].Words);
        Assert.Equal(["B-ORG", "O"], sentences[0].Tags);
        Assert.Equal(3, sentences[0].Line);
        Assert.Equal(["B-PER", "I-PER"], sentences[1].Tags);
        Assert.Equal(["B-NP", "B-VP"], ConllFile.Read(Write(dir, "c.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"), tagColumn: 2)[0].Tags);

        Assert.Contains("d.conll:3: expected a word and a tag", Assert.Throws<DatasetException>(() =>
            ConllFile.Read(Write(dir, "d.conll", "a O\n\nlonely\n"))).Message);
        Assert.Contains("d.conll:2: tag 'PER' is not O or B-/I-/E-/S-<type>", Assert.Throws<DatasetException>(() =>
            ConllFile.Read(Write(dir, "d.conll", "a O\nb PER\n"))).Message);
        Assert.Contains("has no tagged sentences", Assert.Throws<DatasetException>(() =>
            ConllFile.Read(Write(dir, "d.conll", "-DOCSTART- O\n\n"))).Message);
    }

    private const string Squad = """
        {"version": "2.0", "data": [{"title": "t", "paragraphs": [
          {"context": "The cat sat on the mat.",
           "qas": [
             {"id": "q1", "question": "Who sat?", "answers": [{"text": "The cat", "answer_start": 0}, {"text": "cat", "answer_start": 4}]},
             {"id": "q2", "question": "Who flew?", "answers": [], "is_impossible": true}
           ]}
        ]}]}
        """;

    [Fact]
    public void SquadExamples()
    {
        using var dir = new TempDir();
        var examples = SquadFile.Read(Write(dir, "d.json", Squad));
        Assert.Equal(2, examples.Count);
        Assert.Equal("q1", examples[0].Id);
        Assert.Equal(4, examples[0].Line);
        Assert.Equal(2, examples[0].Answers.Count);
        Assert.True(examples[1].IsImpossible);
    }

    [Theory]
    [InlineData("\"answer_start\": 4}", "\"answer_start\": 40}", "d.json:4: answer 'cat' at answer_start 40 lies outside its context (23 characters)")]
    [InlineData("\"answer_start\": 4}", "\"answer_start\": 5}", "d.json:4: answer 'cat' does not match the context at answer_start 5, which reads 'at '")]
    [InlineData("\"answer_start\": 4}", "\"answer_start\": \"4\"}", "d.json:4: 'answer_start' must be a number, got a string")]
    [InlineData("\"question\": \"Who flew?\", ", "", "d.json:5: a question has no 'question'")]
    [InlineData("\"is_impossible\": true", "\"is_impossible\": false", "d.json:5: question 'q2' has no answers")]
    [InlineData("\"id\": \"q2\"", "\"id\": \"q1\"", "d.json:5: question id 'q1' appears twice")]
    [InlineData("\"context\": \"The cat sat on the mat.\",", "", "d.json:2: a paragraph has no 'context'")]
    [InlineData("]}]}", "]}]", "not valid JSON")]
    public void MalformedSquadNamesFileAndLine(string find, string replace, string message)
    {
        using var dir = new TempDir();
        string text = Squad.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(Squad, text);
        var e = Assert.Throws<DatasetException>(() => SquadFile.Read(Write(dir, "d.json", text)));
        Assert.Contains(message, e.Message);
    }
}
