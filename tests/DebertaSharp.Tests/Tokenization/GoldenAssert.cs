using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>Compares a tokenizer's output with one golden case and lists every differing field.</summary>
internal static class GoldenAssert
{
    public static List<string> Differences(DebertaTokenizerBase tokenizer, GoldenCase c)
    {
        var problems = new List<string>();
        TokenEncoding e = tokenizer.Encode(c.Text, c.TextPair);

        void Check<T>(string field, IEnumerable<T> expected, IEnumerable<T> actual)
        {
            if (!expected.SequenceEqual(actual))
            {
                problems.Add($"{field}: expected [{string.Join(", ", expected)}] got [{string.Join(", ", actual)}]");
            }
        }

        Check("input_ids", c.InputIds, e.InputIds);
        Check("token_type_ids", c.TokenTypeIds, e.TokenTypeIds);
        Check("attention_mask", c.AttentionMask, e.AttentionMask);
        Check("special_tokens_mask", c.SpecialTokensMask, e.SpecialTokensMask);
        Check("tokens", c.Tokens, e.Tokens);
        Check("sequence_ids", c.SequenceIds, e.SequenceIds);
        if (c.CodePointOffsets is not null)
        {
            var expectedOffsets = c.CodePointOffsets.Select((o, i) =>
                c.SequenceIds[i] is int s ? GoldenData.ToUtf16(o, s == 0 ? c.Text : c.TextPair!) : o);
            Check("offsets", expectedOffsets, e.Offsets.Select(o => (o.Start, o.End)));
        }

        if (c.Decoded is not null && c.DecodedSkipSpecialTokens is not null
            && !problems.Any(p => p.StartsWith("input_ids", StringComparison.Ordinal)))
        {
            string decoded = tokenizer.Decode(c.InputIds);
            if (decoded != c.Decoded)
            {
                problems.Add($"decoded: expected {Show(c.Decoded)} got {Show(decoded)}");
            }

            string skipped = tokenizer.Decode(c.InputIds, skipSpecialTokens: true);
            if (skipped != c.DecodedSkipSpecialTokens)
            {
                problems.Add($"decoded_skip_special_tokens: expected {Show(c.DecodedSkipSpecialTokens)} got {Show(skipped)}");
            }
        }

        return problems;
    }

    public static void Matches(DebertaTokenizerBase tokenizer, GoldenCase c)
    {
        List<string> problems = Differences(tokenizer, c);
        Assert.True(problems.Count == 0, c.Name + ":\n" + string.Join("\n", problems));
    }

    /// <summary>Checks every case at once, so one run lists all failing cases rather than the first.</summary>
    public static void AllMatch(DebertaTokenizerBase tokenizer, IReadOnlyList<GoldenCase> cases)
    {
        var failures = cases
            .Select(c => (c.Name, Problems: Differences(tokenizer, c)))
            .Where(r => r.Problems.Count > 0)
            .Select(r => r.Name + ": " + string.Join(" | ", r.Problems))
            .ToList();
        Assert.True(failures.Count == 0, $"{failures.Count}/{cases.Count} cases differ:\n" + string.Join("\n", failures));
    }

    public static void BatchMatches(DebertaTokenizerBase tokenizer, GoldenBatchExample x)
    {
        List<string> problems = BatchDifferences(tokenizer, x);
        Assert.True(problems.Count == 0, x.Name + ":\n" + string.Join("\n", problems));
    }

    /// <summary>Every row of a batch example that differs, with its text(s) and both id lists.</summary>
    public static List<string> BatchDifferences(DebertaTokenizerBase tokenizer, GoldenBatchExample x)
    {
        TokenEncoding[] encodings = x.IsBatch
            ? tokenizer.EncodeBatch(x.Texts, x.TextPairs, x.Options).Encodings.ToArray()
            : [tokenizer.Encode(x.Texts[0], x.TextPairs?[0], x.Options)];
        var problems = new List<string>();
        if (encodings.Length != x.InputIds.Length)
        {
            problems.Add($"{encodings.Length} rows, expected {x.InputIds.Length}");
            return problems;
        }

        for (int i = 0; i < encodings.Length; i++)
        {
            string text = Show(x.Texts[i]) + (x.TextPairs?[i] is string pair ? " + " + Show(pair) : "");
            void Check(string field, int[]? expected, IReadOnlyList<int> actual)
            {
                if (expected is not null && !expected.SequenceEqual(actual))
                {
                    problems.Add($"row {i} {text}: {field} expected [{string.Join(", ", expected)}] got [{string.Join(", ", actual)}]");
                }
            }

            Check("input_ids", x.InputIds[i], encodings[i].InputIds);
            Check("token_type_ids", x.TokenTypeIds?[i], encodings[i].TokenTypeIds);
            Check("attention_mask", x.AttentionMask?[i], encodings[i].AttentionMask);
        }

        return problems;
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
