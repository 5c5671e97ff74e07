using System.Text;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>A <c>tokenizer.json</c> pre-tokenizer: cuts a normalized piece into words (and may rewrite them).</summary>
internal interface IPreTokenizer
{
    List<NormalizedText> Split(NormalizedText piece);
}

/// <summary>Reads the <c>pre_tokenizer</c> block.</summary>
internal static class PreTokenizers
{
    private const string Supported = "Sequence, Metaspace, ByteLevel, Whitespace, WhitespaceSplit, Split, Punctuation, BertPreTokenizer";

    public static IPreTokenizer Read(JsonNode node) => node.Type switch
    {
        "Sequence" => new SequencePreTokenizer([.. node.Required("pretokenizers").Items().Select(Read)]),
        "Metaspace" => MetaspacePreTokenizer.Read(node),
        "ByteLevel" => new ByteLevelPreTokenizer(node.Bool("add_prefix_space", true), node.Bool("use_regex", true)),
        "WhitespaceSplit" => new PredicatePreTokenizer(Rune.IsWhiteSpace, SplitBehavior.Removed),
        "Whitespace" => new WhitespacePreTokenizer(),
        "Punctuation" => new PredicatePreTokenizer(TextPattern.IsPunctuation, Behavior(node, "behavior", SplitBehavior.Isolated)),
        "BertPreTokenizer" => new SequencePreTokenizer(
            [new PredicatePreTokenizer(Rune.IsWhiteSpace, SplitBehavior.Removed), new PredicatePreTokenizer(TextPattern.IsPunctuation, SplitBehavior.Isolated)]),
        "Split" => new SplitPreTokenizer(TextPattern.Read(node.Required("pattern")), Behavior(node, "behavior", null), node.Bool("invert", false)),
        _ => throw node.Unsupported("pre-tokenizer", Supported),
    };

    private static SplitBehavior Behavior(JsonNode node, string name, SplitBehavior? fallback)
    {
        string? value = node.String(name);
        if (value is null)
        {
            return fallback ?? throw node.Error($"'{name}' is missing.");
        }

        return value switch
        {
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            _ => throw node.Error($"{name} '{value}' is not a split behavior (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)."),
        };
    }
}

internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> parts) : IPreTokenizer
{
    public List<NormalizedText> Split(NormalizedText piece)
    {
        List<NormalizedText> current = [piece];
        foreach (IPreTokenizer p in parts)
        {
            var next = new List<NormalizedText>(current.Count);
            foreach (NormalizedText c in current)
            {
                next.AddRange(p.Split(c));
            }

            current = next;
        }

        return current;
    }
}

internal sealed class PredicatePreTokenizer(Func<Rune, bool> predicate, SplitBehavior behavior) : IPreTokenizer
{
    public List<NormalizedText> Split(NormalizedText piece) => piece.Split(TextPattern.FindMatches(piece.Text, predicate), behavior);
}

internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public List<NormalizedText> Split(NormalizedText piece)
    {
        List<(int, int, bool)> matches = pattern.FindMatches(piece.Text);
        return piece.Split(invert ? TextPattern.Invert(matches) : matches, behavior);
    }
}

/// <summary>HF <c>Whitespace</c>: the regex <c>\w+|[^\w\s]+</c>, everything else removed.</summary>
internal sealed class WhitespacePreTokenizer : IPreTokenizer
{
    public List<NormalizedText> Split(NormalizedText piece)
    {
        string s = piece.Text;
        var matches = new List<(int, int, bool)>();
        int prev = 0;
        int i = 0;
        while (i < s.Length)
        {
            Rune r = Rune.GetRuneAt(s, i);
            int kind = TextPattern.IsWordChar(r) ? 1 : Rune.IsWhiteSpace(r) ? 0 : 2;
            if (kind == 0)
            {
                i += r.Utf16SequenceLength;
                continue;
            }

            int start = i;
            while (i < s.Length)
            {
                Rune q = Rune.GetRuneAt(s, i);
                int k = TextPattern.IsWordChar(q) ? 1 : Rune.IsWhiteSpace(q) ? 0 : 2;
                if (k != kind)
                {
                    break;
                }

                i += q.Utf16SequenceLength;
            }

            if (prev != start)
            {
                matches.Add((prev, start, false));
            }

            matches.Add((start, i, true));
            prev = i;
        }

        if (prev != s.Length || s.Length == 0)
        {
            matches.Add((prev, s.Length, false));
        }

        return piece.Split(TextPattern.Invert(matches), SplitBehavior.Removed);
    }
}

/// <summary>HF <c>Metaspace</c>: spaces become the replacement character, which is prepended per <c>prepend_scheme</c>; optional split before it.</summary>
internal sealed class MetaspacePreTokenizer(string replacement, MetaspacePrepend scheme, bool split) : IPreTokenizer
{
    public static MetaspacePreTokenizer Read(JsonNode node)
    {
        (string replacement, MetaspacePrepend scheme) = ReadCommon(node);
        return new MetaspacePreTokenizer(replacement, scheme, node.Bool("split", true));
    }

    /// <summary>Replacement and prepend scheme, also for the decoder; the pre-0.15 form has <c>add_prefix_space</c> instead of <c>prepend_scheme</c>.</summary>
    public static (string Replacement, MetaspacePrepend Scheme) ReadCommon(JsonNode node)
    {
        JsonNode rep = node.Required("replacement");
        string replacement = rep.AsString();
        if (replacement.EnumerateRunes().Count() != 1)
        {
            throw rep.Error($"must be a single character, not '{replacement}'.");
        }

        MetaspacePrepend scheme;
        if (node.String("prepend_scheme") is string s)
        {
            scheme = s switch
            {
                "always" => MetaspacePrepend.Always,
                "first" => MetaspacePrepend.First,
                "never" => MetaspacePrepend.Never,
                _ => throw node.Error($"prepend_scheme '{s}' is not always, first or never."),
            };
        }
        else
        {
            scheme = node.Bool("add_prefix_space", true) ? MetaspacePrepend.Always : MetaspacePrepend.Never;
        }

        return (replacement, scheme);
    }

    public List<NormalizedText> Split(NormalizedText piece)
    {
        piece.Replace(TextPattern.FindMatches(piece.Text, r => r.Value == ' '), replacement);
        bool prepend = scheme switch
        {
            MetaspacePrepend.Always => true,
            MetaspacePrepend.First => piece.OriginalStart == 0,
            _ => false,
        };
        if (prepend && !piece.Text.StartsWith(replacement, StringComparison.Ordinal))
        {
            piece.Prepend(replacement);
        }

        if (!split)
        {
            return [piece];
        }

        int rep = Rune.GetRuneAt(replacement, 0).Value;
        return piece.Split(TextPattern.FindMatches(piece.Text, r => r.Value == rep), SplitBehavior.MergedWithNext);
    }
}

/// <summary>When Metaspace prepends its replacement character.</summary>
internal enum MetaspacePrepend
{
    /// <summary>Before every piece.</summary>
    Always,

    /// <summary>Only before the piece at the start of the input.</summary>
    First,

    /// <summary>Never.</summary>
    Never,
}

/// <summary>HF <c>ByteLevel</c>: optional prefix space, GPT-2's split regex, then every UTF-8 byte as its printable stand-in.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    public List<NormalizedText> Split(NormalizedText piece)
    {
        if (addPrefixSpace && !piece.Text.StartsWith(' '))
        {
            piece.Prepend(" ");
        }

        List<NormalizedText> parts;
        if (useRegex)
        {
            var spans = new List<(int Start, int End)>();
            Gpt2PreTokenizer.Split(piece.Text, 0, piece.Length, spans);
            parts = piece.Split(spans.ConvertAll(s => (s.Start, s.End, true)), SplitBehavior.Isolated);
        }
        else
        {
            parts = piece.Length == 0 ? [] : [piece];
        }

        Span<byte> buffer = stackalloc byte[4];
        foreach (NormalizedText part in parts)
        {
            var dest = new List<(int, int)>(part.Length * 2);
            foreach ((_, Rune r) in part.Runes())
            {
                int n = r.EncodeToUtf8(buffer);
                for (int b = 0; b < n; b++)
                {
                    dest.Add((ByteLevelAlphabet.Encode(buffer[b]), b > 0 ? 1 : 0));
                }
            }

            part.Transform(dest, 0);
        }

        return parts;
    }
}
