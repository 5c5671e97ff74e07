using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace DebertaSharp.Tokenization;

/// <summary>
/// The DeBERTa v1 tokenizer (deberta-base / deberta-large): GPT-2 byte-level BPE from <c>vocab.json</c> and
/// <c>merges.txt</c>, with the same ids and decoding as HuggingFace's <c>DebertaTokenizer</c> (transformers 4.44)
/// and character offsets into the original text.
/// </summary>
/// <remarks>
/// The BPE merges run in Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (byte-level). Around it this class adds
/// HF's splitting on added tokens (with <c>[MASK]</c>'s <c>lstrip</c>), the GPT-2 pre-tokenizer over code points,
/// and offsets that give a piece holding part of a multi-byte character the span of the whole character.
/// </remarks>
public sealed class DebertaTokenizer : DebertaTokenizerBase
{
    /// <summary>The vocabulary file name.</summary>
    public const string VocabFileName = "vocab.json";

    /// <summary>The merges file name.</summary>
    public const string MergesFileName = "merges.txt";

    private readonly BpeTokenizer _bpe;
    private readonly ByteLevelBpeMerger? _longWordMerger;
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly bool _addPrefixSpace;

    private DebertaTokenizer(BpeTokenizer bpe, ByteLevelBpeMerger? longWordMerger, Dictionary<string, int> vocab, TokenizerConfig config, ResolvedTokens tokens)
        : base(tokens, config, "[PAD]")
    {
        _bpe = bpe;
        _longWordMerger = longWordMerger;
        _vocab = vocab;
        _addPrefixSpace = config.AddPrefixSpace;
        _idToToken = new string?[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach ((string token, int id) in vocab)
        {
            _idToToken[id] = token;
        }

        VocabularySize = vocab.Count + tokens.TokensBeyondVocabulary;
    }

    /// <inheritdoc/>
    public override int VocabularySize { get; }

    /// <summary>Pre-tokens of more UTF-8 bytes than this go through <see cref="ByteLevelBpeMerger"/> instead of ML.Tokenizers (tests lower it).</summary>
    internal int LongWordBytes { get; set; } = 256;

    /// <summary>Loads the tokenizer of a checkpoint folder (<c>vocab.json</c>, <c>merges.txt</c> and the optional HF JSON files).</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <exception cref="TokenizerException">The folder, <c>vocab.json</c> or <c>merges.txt</c> is missing or corrupt, or the config is inconsistent.</exception>
    public static DebertaTokenizer FromPretrained(string directory)
    {
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            throw new TokenizerException($"Tokenizer folder '{directory}' does not exist.");
        }

        string vocabPath = Path.Combine(directory, VocabFileName);
        string mergesPath = Path.Combine(directory, MergesFileName);
        foreach (string path in new[] { vocabPath, mergesPath })
        {
            if (!File.Exists(path))
            {
                throw new TokenizerException($"'{path}' is missing: a DeBERTa v1 tokenizer needs {VocabFileName} and {MergesFileName}.");
            }
        }

        Dictionary<string, int> vocab = ReadVocab(vocabPath);
        List<string> merges = ReadMerges(mergesPath, vocab);
        TokenizerConfig config = TokenizerConfig.Load(directory);
        var defaults = new Dictionary<string, AddedToken>(StringComparer.Ordinal)
        {
            ["bos_token"] = new("[CLS]", -1) { Special = true },
            ["eos_token"] = new("[SEP]", -1) { Special = true },
            ["unk_token"] = new("[UNK]", -1) { Special = true },
            ["sep_token"] = new("[SEP]", -1) { Special = true },
            ["pad_token"] = new("[PAD]", -1) { Special = true },
            ["cls_token"] = new("[CLS]", -1) { Special = true },
            ["mask_token"] = new("[MASK]", -1) { Special = true, LStrip = true }, // HF: AddedToken(mask, lstrip=True)
        };
        ResolvedTokens tokens = SpecialTokenResolver.Resolve(
            config, defaults, t => vocab.TryGetValue(t, out int id) ? id : null, vocab.Count, $"'{directory}'");

        BpeTokenizer bpe;
        try
        {
            string? unk = tokens.ByRole.TryGetValue("unk_token", out AddedToken? u) && vocab.ContainsKey(u.Content) ? u.Content : null;
            bpe = BpeTokenizer.Create(new BpeOptions(vocab) { Merges = merges, ByteLevel = true, UnknownToken = unk });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new TokenizerException($"'{vocabPath}' / '{mergesPath}' could not be loaded by Microsoft.ML.Tokenizers: {ex.Message}", ex);
        }

        return new DebertaTokenizer(bpe, ByteLevelBpeMerger.Create(vocab, merges), vocab, config, tokens);
    }

    private static Dictionary<string, int> ReadVocab(string path)
    {
        using JsonDocument doc = TokenizerConfig.ParseFile(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerException($"'{path}' must be a JSON object mapping tokens to ids.");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new TokenizerException($"'{path}': the id of token '{p.Name}' is not a non-negative integer.");
            }

            vocab[p.Name] = id;
        }

        if (vocab.Count == 0)
        {
            throw new TokenizerException($"'{path}' holds no tokens.");
        }

        // Ids index tables sized by the largest id: one far past the entry count is corruption, not a sparse vocabulary.
        foreach ((string token, int id) in vocab)
        {
            if (id >= vocab.Count)
            {
                throw new TokenizerException($"'{path}': token '{token}' has id {id}, outside [0, {vocab.Count}) for a vocabulary of {vocab.Count} tokens.");
            }
        }

        return vocab;
    }

    private static List<string> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"Cannot read '{path}': {ex.Message}", ex);
        }

        var merges = new List<string>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if ((i == 0 && line.StartsWith("#version", StringComparison.Ordinal)) || line.Length == 0)
            {
                continue;
            }

            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new TokenizerException($"'{path}' line {i + 1}: a merge must be two tokens separated by one space, not '{line}'.");
            }

            if (!vocab.ContainsKey(parts[0]) || !vocab.ContainsKey(parts[1]) || !vocab.ContainsKey(parts[0] + parts[1]))
            {
                throw new TokenizerException($"'{path}' line {i + 1}: merge '{line}' uses a token missing from {VocabFileName}.");
            }

            merges.Add(line);
        }

        return merges;
    }

    /// <inheritdoc/>
    private protected override void TokenizeText(string text, int start, int end, List<TokenPiece> output)
    {
        string work = text;
        int shift = 0;
        if (_addPrefixSpace && start == 0 && end > 0 && !TextUtilities.IsPythonSpace(text[0]))
        {
            // HF prepends " " to the text; that byte has no source character, so its span is clamped to (0, 0).
            work = " " + text[..end];
            end++;
            shift = -1;
        }

        var words = new List<(int Start, int End)>();
        Gpt2PreTokenizer.Split(work, start, end, words);
        foreach ((int s, int e) in words)
        {
            EncodeBytes(work.Substring(s, e - s), output, shift + s, clampStart: start);
        }
    }

    /// <summary>Runs ML.Tokenizers' byte-level BPE on one pre-token and maps each piece's bytes back to characters.</summary>
    private void EncodeBytes(string word, List<TokenPiece> output, int shift, int clampStart)
    {
        // byteStart[b] / byteEnd[b]: the char span (within word) of the character holding UTF-8 byte b.
        int byteCount = System.Text.Encoding.UTF8.GetByteCount(word);
        var charStart = new int[byteCount];
        var charEnd = new int[byteCount];
        for (int c = 0, b = 0; c < word.Length;)
        {
            System.Text.Rune.DecodeFromUtf16(word.AsSpan(c), out System.Text.Rune rune, out int units);
            for (int j = 0; j < rune.Utf8SequenceLength; j++, b++)
            {
                charStart[b] = c;
                charEnd[b] = c + units;
            }

            c += units;
        }

        int cursor = 0;
        void Add(int id, string token, int length)
        {
            int first = Math.Min(cursor, byteCount - 1);
            int last = Math.Min(cursor + Math.Max(length, 1) - 1, byteCount - 1);
            int s = Math.Max(shift + charStart[first], clampStart);
            int e = Math.Max(shift + charEnd[last], clampStart);
            output.Add(new TokenPiece(id, token, s, e));
            cursor += length;
        }

        if (byteCount > LongWordBytes && _longWordMerger is not null)
        {
            byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(word);
            var pieces = new List<(int Id, int ByteLength)>();
            _longWordMerger.Merge(utf8, pieces);
            foreach ((int id, int length) in pieces)
            {
                Add(id, _idToToken[id]!, length);
            }

            return;
        }

        foreach (EncodedToken token in _bpe.EncodeToTokens(word, out _, considerPreTokenization: false, considerNormalization: false))
        {
            // A byte-level piece has one character per byte; an unknown piece stands for the rest of the word.
            Add(token.Id, token.Value, _vocab.ContainsKey(token.Value) ? token.Value.Length : byteCount - cursor);
        }
    }

    /// <summary>HF's GPT-2 <c>convert_tokens_to_string</c>: join, map characters back to bytes, decode UTF-8 with replacement.</summary>
    private protected override string ConvertTokensToString(IReadOnlyList<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            ByteLevelAlphabet.Decode(token, bytes);
        }

        return System.Text.Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc/>
    private protected override int? VocabularyId(string piece) => _vocab.TryGetValue(piece, out int id) ? id : null;

    /// <inheritdoc/>
    private protected override string? VocabularyPiece(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;
}
