using System.Text;

namespace DebertaSharp.Tokenization.Fast;

/// <summary>A <c>tokenizer.json</c> decoder step (HF <c>decode_chain</c>): token strings in, token strings out.</summary>
internal interface IDecoder
{
    List<string> DecodeChain(List<string> tokens);
}

/// <summary>Reads the <c>decoder</c> block.</summary>
internal static class Decoders
{
    private const string Supported = "Metaspace, ByteLevel, WordPiece, BPEDecoder, ByteFallback, Fuse, Strip, Replace, Sequence";

    public static IDecoder Read(JsonNode node) => node.Type switch
    {
        "Metaspace" => Metaspace(node),
        "ByteLevel" => new ByteLevelDecoder(),
        "WordPiece" => new WordPieceDecoder(node.String("prefix", "##")!, node.Bool("cleanup", true)),
        "BPEDecoder" => new BpeDecoder(node.String("suffix", "</w>")!),
        "ByteFallback" => new ByteFallbackDecoder(),
        "Fuse" => new FuseDecoder(),
        "Strip" => new StripDecoder(node.RequiredString("content"), node.Int("start") ?? 0, node.Int("stop") ?? 0),
        "Replace" => new ReplaceDecoder(TextPattern.Read(node.Required("pattern")), node.RequiredString("content")),
        "Sequence" => new SequenceDecoder([.. node.Required("decoders").Items().Select(Read)]),
        _ => throw node.Unsupported("decoder", Supported),
    };

    /// <summary>Runs the chain and joins the result (HF <c>Decoder::decode</c>).</summary>
    public static string Decode(IDecoder? decoder, List<string> tokens) =>
        string.Concat(decoder is null ? tokens : decoder.DecodeChain(tokens));

    private static MetaspaceDecoder Metaspace(JsonNode node)
    {
        (string replacement, MetaspacePrepend scheme) = MetaspacePreTokenizer.ReadCommon(node);
        return new MetaspaceDecoder(replacement, scheme != MetaspacePrepend.Never);
    }
}

internal sealed class SequenceDecoder(IReadOnlyList<IDecoder> parts) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        foreach (IDecoder d in parts)
        {
            tokens = d.DecodeChain(tokens);
        }

        return tokens;
    }
}

/// <summary>The replacement character becomes a space, except in the first token when a prefix was prepended.</summary>
internal sealed class MetaspaceDecoder(string replacement, bool prepended) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        [.. tokens.Select((t, i) => t.Replace(replacement, i == 0 && prepended ? "" : " ", StringComparison.Ordinal))];
}

/// <summary>Byte-level characters back to bytes, then UTF-8 (invalid sequences as U+FFFD).</summary>
internal sealed class ByteLevelDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string t in tokens)
        {
            ByteLevelAlphabet.Decode(t, bytes);
        }

        return [Encoding.UTF8.GetString([.. bytes])];
    }
}

internal sealed class WordPieceDecoder(string prefix, bool cleanup) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (i != 0)
            {
                t = t.StartsWith(prefix, StringComparison.Ordinal) ? t[prefix.Length..] : " " + t;
            }

            if (cleanup)
            {
                t = t.Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
                    .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
                    .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
                    .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" do not", " don't", StringComparison.Ordinal)
                    .Replace(" 's", "'s", StringComparison.Ordinal).Replace(" 've", "'ve", StringComparison.Ordinal)
                    .Replace(" 're", "'re", StringComparison.Ordinal);
            }

            result.Add(t);
        }

        return result;
    }
}

internal sealed class BpeDecoder(string suffix) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        [.. tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal))];
}

/// <summary>Runs of <c>&lt;0xAB&gt;</c> pieces become the UTF-8 text they spell, or one U+FFFD per byte if invalid.</summary>
internal sealed class ByteFallbackDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0)
            {
                return;
            }

            try
            {
                result.Add(new UTF8Encoding(false, true).GetString([.. pending]));
            }
            catch (DecoderFallbackException)
            {
                result.AddRange(Enumerable.Repeat("\uFFFD", pending.Count));
            }

            pending.Clear();
        }

        foreach (string t in tokens)
        {
            if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>' &&
                byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out byte b))
            {
                pending.Add(b);
                continue;
            }

            Flush();
            result.Add(t);
        }

        Flush();
        return result;
    }
}

internal sealed class FuseDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing <c>content</c> characters of every token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        Rune c = Rune.GetRuneAt(content, 0);
        return tokens.ConvertAll(t =>
        {
            Rune[] chars = [.. t.EnumerateRunes()];
            int from = 0;
            while (from < Math.Min(start, chars.Length) && chars[from] == c)
            {
                from++;
            }

            int to = chars.Length;
            for (int i = 0; i < stop && to - 1 >= from && chars[to - 1] == c; i++)
            {
                to--;
            }

            return string.Concat(chars[from..to].Select(r => r.ToString()));
        });
    }
}

internal sealed class ReplaceDecoder(TextPattern pattern, string content) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.ConvertAll(t =>
    {
        var sb = new StringBuilder(t.Length);
        foreach ((int s, int e, bool match) in pattern.FindMatches(t))
        {
            sb.Append(match ? content : t[s..e]);
        }

        return sb.ToString();
    });
}
