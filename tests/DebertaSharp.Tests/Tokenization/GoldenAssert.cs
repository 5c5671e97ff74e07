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
        var expectedOffsets = c.CodePointOffsets.Select((o, i) =>
            c.SequenceIds[i] is int s ? GoldenData.ToUtf16(o, s == 0 ? c.Text : c.TextPair!) : o);
        Check("offsets", expectedOffsets, e.Offsets.Select(o => (o.Start, o.End)));
        if (!problems.Any(p => p.StartsWith("input_ids", StringComparison.Ordinal)))
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
        TokenEncoding[] encodings = x.IsBatch
            ? tokenizer.EncodeBatch(x.Texts, x.TextPairs, x.Options).Encodings.ToArray()
            : [tokenizer.Encode(x.Texts[0], x.TextPairs?[0], x.Options)];
        Assert.Equal(x.InputIds.Length, encodings.Length);
        for (int i = 0; i < encodings.Length; i++)
        {
            Assert.Equal(x.InputIds[i], encodings[i].InputIds);
            if (x.TokenTypeIds is not null)
            {
                Assert.Equal(x.TokenTypeIds[i], encodings[i].TokenTypeIds);
            }

            if (x.AttentionMask is not null)
            {
                Assert.Equal(x.AttentionMask[i], encodings[i].AttentionMask);
            }
        }
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
