using System.CommandLine;
using System.Text.Json;
using DebertaSharp.Cli.Commands;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>Runs <c>deberta tokenize</c> in-process and compares its JSON lines with the golden HF outputs.</summary>
public class TokenizeCommandTests
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(TokenizeCommand.Create());
        var output = new StringWriter();
        var error = new StringWriter();
        int code = DebertaSharp.Cli.DebertaCli.Invoke(root, ["tokenize", .. args], new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();

    [Theory]
    [InlineData("tokenizer-v3")]
    [InlineData("tokenizer-v1")]
    public void JsonLinesOfEveryGoldenCaseMatch(string fixture)
    {
        IReadOnlyList<GoldenCase> cases = GoldenData.Cases(fixture);
        string input = Path.Combine(Path.GetTempPath(), $"debertasharp-cli-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(input, cases.Select(c => JsonSerializer.Serialize(new { text = c.Text, text_pair = c.TextPair })));
        try
        {
            (int code, string output, string error) = Run("--model", GoldenData.Folder(fixture), "--jsonl", input);
            Assert.True(code == 0, error);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(cases.Count, lines.Length);
            for (int i = 0; i < cases.Count; i++)
            {
                using JsonDocument doc = JsonDocument.Parse(lines[i]);
                JsonElement row = doc.RootElement;
                Assert.Equal(cases[i].InputIds, Ints(row, "input_ids"));
                Assert.Equal(cases[i].TokenTypeIds, Ints(row, "token_type_ids"));
                Assert.Equal(cases[i].AttentionMask, Ints(row, "attention_mask"));
                var offsets = row.GetProperty("offsets").EnumerateArray().Select(o => (o[0].GetInt32(), o[1].GetInt32())).ToArray();
                var expected = cases[i].CodePointOffsets!.Select((o, k) =>
                    cases[i].SequenceIds[k] is int s ? GoldenData.ToUtf16(o, s == 0 ? cases[i].Text : cases[i].TextPair!) : o);
                Assert.Equal(expected, offsets);
            }
        }
        finally
        {
            File.Delete(input);
        }
    }

    [Fact]
    public void TextArgumentsWithPaddingLongestMatchTheGoldenBatch()
    {
        GoldenBatchExample x = GoldenData.BatchExamples("tokenizer-v1").Single(b => b.Name == "padding_longest");
        (int code, string output, string error) = Run(["--model", GoldenData.Folder("tokenizer-v1"), "--padding", "longest", .. x.Texts]);
        Assert.True(code == 0, error);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < lines.Length; i++)
        {
            using JsonDocument doc = JsonDocument.Parse(lines[i]);
            Assert.Equal(x.InputIds[i], Ints(doc.RootElement, "input_ids"));
            Assert.Equal(x.AttentionMask![i], Ints(doc.RootElement, "attention_mask"));
        }
    }

    [Fact]
    public void PairTruncationMatchesTheGoldenExample()
    {
        GoldenBatchExample x = GoldenData.BatchExamples("tokenizer-v1").Single(b => b.Name == "trunc_pair_only_second");
        (int code, string output, _) = Run(
            "--model", GoldenData.Folder("tokenizer-v1"), "--pair", x.TextPairs![0]!, "--max-length", "16", "--truncation", "only_second", x.Texts[0]);
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output.Trim());
        Assert.Equal(x.InputIds[0], Ints(doc.RootElement, "input_ids"));
        Assert.Equal(x.TokenTypeIds![0], Ints(doc.RootElement, "token_type_ids"));
    }

    [Theory]
    [InlineData("--model", "/nonexistent/folder", "x")]
    [InlineData("--model", "FIXTURE", "--truncation", "sideways", "x")]
    [InlineData("--model", "FIXTURE", "--padding", "lots", "x")]
    [InlineData("--model", "FIXTURE", "--max-length", "abc", "x")]
    [InlineData("--model", "FIXTURE", "--max-length", "1", "x")]
    [InlineData("--model", "FIXTURE")]
    [InlineData("x")]
    [InlineData("--model", "FIXTURE", "--jsonl", "/nonexistent/input.jsonl")]
    public void UserErrorsExitWithTwoAndNoStackTrace(params string[] args)
    {
        args = args.Select(a => a == "FIXTURE" ? GoldenData.Folder("tokenizer-v3") : a).ToArray();
        (int code, string output, string error) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith("deberta tokenize: ", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void BadJsonLineIsNamedByNumber()
    {
        string input = Path.Combine(Path.GetTempPath(), $"debertasharp-cli-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(input, "{\"text\": \"ok\"}\n{\"text\": 5}\n");
        try
        {
            (int code, _, string error) = Run("--model", GoldenData.Folder("tokenizer-v3"), "--jsonl", input);
            Assert.Equal(2, code);
            Assert.Contains("line 2", error);
        }
        finally
        {
            File.Delete(input);
        }
    }

    private static JsonElement ReferenceCase(string name)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenData.Folder("encode-options"), "expected.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).Clone();
    }

    private static JsonElement[] Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();

    [Theory]
    [InlineData("single-stride-right", new string[0])]
    [InlineData("single-stride-left", new[] { "--truncation-side", "left" })]
    [InlineData("single-pad-multiple", new[] { "--padding", "longest", "--pad-to-multiple-of", "8", "--truncation", "longest_first" })]
    [InlineData("single-no-special", new[] { "--no-special-tokens" })]
    public void OverflowWindowsMatchTheRustTokenizerReference(string name, string[] extra)
    {
        JsonElement c = ReferenceCase(name);
        JsonElement o = c.GetProperty("options");
        (int code, string output, string error) = Run([
            "--model", GoldenData.Folder("tokenizer-v3"), "--max-length", o.GetProperty("max_length").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--stride", o.GetProperty("stride").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), "--return-overflowing-tokens",
            "--return-special-tokens-mask", "--return-length", .. extra, c.GetProperty("text").GetString()!]);
        Assert.True(code == 0, error);
        JsonElement[] lines = Lines(output);
        JsonElement[] expected = c.GetProperty("encodings").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.Equal(Ints(expected[i], "input_ids"), Ints(lines[i], "input_ids"));
            Assert.Equal(Ints(expected[i], "attention_mask"), Ints(lines[i], "attention_mask"));
            Assert.Equal(Ints(expected[i], "special_tokens_mask"), Ints(lines[i], "special_tokens_mask"));
            Assert.Equal(expected[i].GetProperty("length").GetInt32(), lines[i].GetProperty("length").GetInt32());
            Assert.Equal(0, lines[i].GetProperty("overflow_to_sample_mapping").GetInt32());
        }
    }

    [Fact]
    public void SplitIntoWordsPrintsWordIdsAsTheRustTokenizer()
    {
        JsonElement c = ReferenceCase("words-single");
        string[] words = c.GetProperty("words").EnumerateArray().Select(w => w.GetString()!).ToArray();
        (int code, string output, string error) = Run(["--model", GoldenData.Folder("tokenizer-v3"), "--is-split-into-words", string.Join("  ", words)]);
        Assert.True(code == 0, error);
        JsonElement line = Assert.Single(Lines(output));
        JsonElement expected = c.GetProperty("encodings")[0];
        Assert.Equal(Ints(expected, "input_ids"), Ints(line, "input_ids"));
        Assert.Equal(
            expected.GetProperty("word_ids").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (int?)null : v.GetInt32()),
            line.GetProperty("word_ids").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (int?)null : v.GetInt32()));
    }

    [Theory]
    [InlineData("--stride", "-1")]
    [InlineData("--truncation-side", "middle")]
    [InlineData("--pad-to-multiple-of", "0")]
    public void BadEncodeOptionFlagsExitWithTwo(string flag, string value)
    {
        (int code, string output, string error) = Run("--model", GoldenData.Folder("tokenizer-v3"), flag, value, "some text");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(flag, error);
    }
}
