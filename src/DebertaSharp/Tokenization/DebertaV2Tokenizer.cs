using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using PieceType = DebertaSharp.Tokenization.SentencePieceModelProto.PieceType;

namespace DebertaSharp.Tokenization;

/// <summary>
/// The DeBERTa-v2 / v3 / mDeBERTa tokenizer: a SentencePiece model (<c>spm.model</c>, unigram or BPE, with or
/// without byte fallback) with the same ids, pieces and decoding as HuggingFace's <c>DebertaV2Tokenizer</c>
/// (transformers 4.44 on python sentencepiece 0.1.97), plus character offsets into the original text.
/// </summary>
/// <remarks>
/// The segmentation is this library's own re-implementation of sentencepiece's encoders (the unigram Viterbi of
/// <c>EncodeOptimized</c> with its float arithmetic and tie-breaking, the BPE merge loop), its normalizer with an
/// alignment back to the original string (so offsets are spans of the input, not of the normalized text), merging
/// of a run of unknown characters into one piece, and byte fallback. Around it: HF's splitting on added/special
/// tokens (<c>[MASK]</c> outside the spm vocabulary), <c>do_lower_case</c> with Python's per-character
/// <c>str.lower()</c>, and <c>split_by_punct</c>.
/// </remarks>
public sealed class DebertaV2Tokenizer : DebertaTokenizerBase
{
    /// <summary>The SentencePiece model file name HF uses for DeBERTa-v2/v3.</summary>
    public const string ModelFileName = "spm.model";

    private const char SpaceSymbol = '\u2581';
    private const string UnknownSurface = " \u2047 ";

    [ThreadStatic]
    private static Scratch? t_scratch;

    private readonly SentencePieceEncoder _encoder;
    private readonly SentencePieceAligningNormalizer _normalizer;
    private readonly PythonLowerCase? _lowerCase;
    private readonly List<(string Piece, float Score, PieceType Type)> _pieces;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly int _spmUnkId;

    private DebertaV2Tokenizer(State state)
        : base(state.Tokens, state.Config, "[PAD]")
    {
        _encoder = state.Encoder;
        _normalizer = state.Normalizer;
        _pieces = state.Model.Pieces;
        _pieceToId = state.PieceToId;
        _spmUnkId = state.SpmUnkId;
        DoLowerCase = state.Config.DoLowerCase;
        SplitByPunct = state.Config.SplitByPunct;
        VocabularySize = _pieces.Count + state.Tokens.TokensBeyondVocabulary;
        if (DoLowerCase)
        {
            // HF's regex alternation: all_special_tokens (roles in order, then additional ones), then normalized non-special added tokens.
            IEnumerable<string> specials = TokenizerConfig.SpecialRoles
                .Where(state.Tokens.ByRole.ContainsKey)
                .Select(r => state.Tokens.ByRole[r].Content)
                .Concat(state.Tokens.ByRole.Where(kv => kv.Key.StartsWith("additional_special_tokens[", StringComparison.Ordinal))
                    .OrderBy(kv => int.Parse(kv.Key.AsSpan(26, kv.Key.Length - 27), CultureInfo.InvariantCulture))
                    .Select(kv => kv.Value.Content));
            _lowerCase = new PythonLowerCase(specials.Concat(state.Tokens.AddedTokens.Where(t => !t.Special && t.Normalized).Select(t => t.Content)));
        }
    }

    /// <summary>Lower-cases text before tokenization (<c>do_lower_case</c>).</summary>
    public bool DoLowerCase { get; }

    /// <summary>Splits text at punctuation and tokenizes each part separately (<c>split_by_punct</c>).</summary>
    public bool SplitByPunct { get; }

    /// <summary>Number of pieces in <c>spm.model</c> (128000 for deberta-v3; <c>[MASK]</c> comes after them).</summary>
    public int PieceCount => _pieces.Count;

    /// <inheritdoc/>
    public override int VocabularySize { get; }

    /// <summary>Loads the tokenizer of a checkpoint folder (<c>spm.model</c> and the optional HF JSON files).</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <exception cref="TokenizerException">The folder or <c>spm.model</c> is missing or corrupt, or the config is inconsistent.</exception>
    public static DebertaV2Tokenizer FromPretrained(string directory)
    {
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            throw new TokenizerException($"Tokenizer folder '{directory}' does not exist.");
        }

        string path = Path.Combine(directory, ModelFileName);
        if (!File.Exists(path))
        {
            throw new TokenizerException($"'{path}' is missing: a DeBERTa-v2/v3 tokenizer needs the SentencePiece model {ModelFileName}.");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"Cannot read '{path}': {ex.Message}", ex);
        }

        SentencePieceModelProto model = ParseModel(bytes, path);
        SentencePieceModelValidator.Validate(model, path);
        var encoder = SentencePieceEncoder.Create(model);
        SentencePieceAligningNormalizer normalizer;
        try
        {
            normalizer = new SentencePieceAligningNormalizer(model, encoder.UserDefined);
        }
        catch (FormatException ex)
        {
            throw new TokenizerException($"'{path}' is not a valid SentencePiece model: {ex.Message}.", ex);
        }

        var pieceToId = new Dictionary<string, int>(model.Pieces.Count, StringComparer.Ordinal);
        for (int i = 0; i < model.Pieces.Count; i++)
        {
            pieceToId.TryAdd(model.Pieces[i].Piece, i);
        }

        int spmUnkId = encoder.UnkId;
        TokenizerConfig config = TokenizerConfig.Load(directory);
        var defaults = new Dictionary<string, AddedToken>(StringComparer.Ordinal)
        {
            ["bos_token"] = new("[CLS]", -1) { Special = true },
            ["eos_token"] = new("[SEP]", -1) { Special = true },
            ["unk_token"] = new("[UNK]", -1) { Special = true, Normalized = true },
            ["sep_token"] = new("[SEP]", -1) { Special = true },
            ["pad_token"] = new("[PAD]", -1) { Special = true },
            ["cls_token"] = new("[CLS]", -1) { Special = true },
            ["mask_token"] = new("[MASK]", -1) { Special = true },
        };
        ResolvedTokens tokens = SpecialTokenResolver.Resolve(
            config, defaults, p => pieceToId.TryGetValue(p, out int id) ? id : null, model.Pieces.Count, $"'{directory}'");

        return new DebertaV2Tokenizer(new State(model, encoder, normalizer, pieceToId, spmUnkId, config, tokens));
    }

    private static SentencePieceModelProto ParseModel(byte[] bytes, string path)
    {
        try
        {
            return SentencePieceModelProto.Parse(bytes);
        }
        catch (FormatException ex)
        {
            throw new TokenizerException($"'{path}' is not a valid SentencePiece model: {ex.Message}.", ex);
        }
    }

    /// <inheritdoc/>
    private protected override string PrepareText(string text, out int[]? origin)
    {
        if (_lowerCase is null)
        {
            origin = null;
            return text;
        }

        return _lowerCase.Apply(text, out origin);
    }

    /// <inheritdoc/>
    private protected override void TokenizeText(string text, int start, int end, List<TokenPiece> output)
    {
        if (!SplitByPunct)
        {
            EncodeSentence(text, start, end, output);
            return;
        }

        int wordStart = start;
        for (int i = start; i < end;)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i, end - i), out Rune rune, out int length);
            if (IsPunctuation(rune))
            {
                EncodeSentence(text, wordStart, i, output);
                EncodeSentence(text, i, i + length, output);
                wordStart = i + length;
            }

            i += length;
        }

        EncodeSentence(text, wordStart, end, output);
    }

    /// <summary>
    /// What python sentencepiece's <c>encode(text, out_type=str)</c> does for <c>text[start..end]</c>, with spans:
    /// normalize with an alignment, segment the normalized UTF-8, then (sentencepiece's
    /// <c>PopulateSentencePieceText</c>) merge runs of unknown pieces or split them into byte pieces, and map every
    /// piece back through normalized byte → original byte → original char.
    /// </summary>
    private void EncodeSentence(string text, int start, int end, List<TokenPiece> output)
    {
        if (end <= start)
        {
            return;
        }

        Scratch scratch = t_scratch ??= new Scratch();
        ReadOnlySpan<char> span = text.AsSpan(start, end - start);
        int byteCount = Encoding.UTF8.GetByteCount(span);
        byte[] bytes = scratch.Utf8(byteCount);
        Encoding.UTF8.GetBytes(span, bytes);

        // byteToChar[b] = index (in span) of the char holding byte b; byteToChar[byteCount] = span.Length.
        int[] byteToChar = scratch.ByteToChar(byteCount + 1);
        for (int c = 0, b = 0; c < span.Length;)
        {
            char ch = span[c];
            if (ch < 0x80)
            {
                byteToChar[b++] = c++;
                continue;
            }

            Rune.DecodeFromUtf16(span[c..], out Rune rune, out int units);
            for (int j = 0; j < rune.Utf8SequenceLength; j++)
            {
                byteToChar[b++] = c;
            }

            c += units;
        }

        byteToChar[byteCount] = span.Length;

        List<byte> normalizedBytes = scratch.Normalized;
        List<int> normToOrig = scratch.NormToOrig;
        _normalizer.Normalize(bytes.AsSpan(0, byteCount), normalizedBytes, normToOrig);
        if (normalizedBytes.Count == 0)
        {
            return;
        }

        ReadOnlySpan<byte> normalized = CollectionsMarshal.AsSpan(normalizedBytes);
        List<SentencePieceSegment> segments = scratch.Segments;
        segments.Clear();
        _encoder.Encode(normalized, segments);

        int first = output.Count;
        bool previousUnknown = false;
        foreach (SentencePieceSegment segment in segments)
        {
            int origStart = normToOrig[segment.Start];
            int origEnd = normToOrig[segment.End];
            int charStart = start + byteToChar[origStart];
            int charEnd = start + byteToChar[origEnd];
            PieceType type = _encoder.TypeOf(segment.Id);
            if (type == PieceType.Control)
            {
                // Only a BPE model whose single-character control piece occurs in text gets here; sentencepiece then fails too.
                throw new TokenizerException(
                    $"The text holds the control piece '{_pieces[segment.Id].Piece}' of {ModelFileName} as a character; sentencepiece cannot encode it either.");
            }

            bool unknown = segment.Id == _spmUnkId;
            if (unknown && _encoder.ByteFallback)
            {
                // One byte piece per UTF-8 byte of the unknown piece; only the last one covers the original characters.
                for (int b = segment.Start; b < segment.End; b++)
                {
                    int id = _encoder.ByteId(normalized[b]);
                    bool last = b == segment.End - 1;
                    output.Add(new TokenPiece(id, _pieces[id].Piece, charStart, last ? charEnd : charStart));
                }
            }
            else if (unknown && previousUnknown && output.Count > first)
            {
                // sentencepiece merges a run of unknown pieces into one.
                TokenPiece last = output[^1];
                output[^1] = last with { Token = last.Token + Encoding.UTF8.GetString(normalized[segment.Start..segment.End]), End = charEnd };
            }
            else
            {
                string piece = unknown ? Encoding.UTF8.GetString(normalized[segment.Start..segment.End]) : _pieces[segment.Id].Piece;
                output.Add(new TokenPiece(segment.Id, piece, charStart, charEnd));
            }

            previousUnknown = unknown;
        }

        // HF maps each piece string back with spm.PieceToId: a merged unknown run is looked up as a whole.
        for (int i = first; i < output.Count; i++)
        {
            if (output[i].Id == _spmUnkId && _pieceToId.TryGetValue(output[i].Token, out int id))
            {
                output[i] = output[i] with { Id = id };
            }
        }
    }

    /// <summary>
    /// BERT's <c>_is_punctuation</c>: ASCII symbols and every Unicode P* category — as Python 3.11's <c>unicodedata</c>
    /// (Unicode 14, what the HF reference outputs come from) sees it: punctuation assigned in Unicode 15 or 16, which
    /// .NET already knows, is an unassigned code point there.
    /// </summary>
    internal static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        {
            return true;
        }

        bool punctuation = Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
        return punctuation && !PunctuationAfterUnicode14.Any(r => cp >= r.First && cp <= r.Last);
    }

    /// <summary>Punctuation .NET knows that Unicode 14 had not assigned (checked for every code point by PythonUnicodeTests).</summary>
    private static readonly (int First, int Last)[] PunctuationAfterUnicode14 =
    [
        (0x1B4E, 0x1B4F), (0x1B7F, 0x1B7F), (0x10D6E, 0x10D6E), (0x113D4, 0x113D5), (0x113D7, 0x113D8), (0x11B00, 0x11B09),
        (0x11BE1, 0x11BE1), (0x11F43, 0x11F4F), (0x16D6D, 0x16D6F), (0x1E5FF, 0x1E5FF),
    ];

    /// <summary>HF's <c>SPMTokenizer.decode</c>: special tokens verbatim (with a space before a run of them), the rest through sentencepiece.</summary>
    private protected override string ConvertTokensToString(IReadOnlyList<string> tokens)
    {
        var text = new StringBuilder();
        var pieces = new List<string>();
        bool prevIsSpecial = false;
        foreach (string token in tokens)
        {
            if (IsSpecialTokenString(token))
            {
                if (!prevIsSpecial)
                {
                    text.Append(' ');
                }

                text.Append(DecodePieces(pieces)).Append(token);
                prevIsSpecial = true;
                pieces.Clear();
            }
            else
            {
                pieces.Add(token);
                prevIsSpecial = false;
            }
        }

        text.Append(DecodePieces(pieces));
        return TextUtilities.PythonStrip(text.ToString());
    }

    /// <summary>
    /// sentencepiece's <c>DecodePieces</c> (0.1.9x): control pieces vanish, the first piece loses its leading '▁',
    /// '▁' → ' ', a run of byte pieces becomes its UTF-8 text with one U+FFFD per byte that is not part of a valid character.
    /// </summary>
    private string DecodePieces(List<string> pieces)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (string piece in pieces)
        {
            int id = _pieceToId.TryGetValue(piece, out int known) ? known : _spmUnkId;
            PieceType type = _pieces[id].Type;
            if (type == PieceType.Byte)
            {
                bytes.Add((byte)SentencePieceModelValidator.ByteOfPiece(piece));
                continue;
            }

            AppendBytes(text, bytes);
            if (type == PieceType.Control)
            {
                continue;
            }

            if (type == PieceType.Unknown)
            {
                text.Append(piece == _pieces[id].Piece ? UnknownSurface : piece);
                continue;
            }

            ReadOnlySpan<char> p = piece;
            if (text.Length == 0 && p.Length > 0 && p[0] == SpaceSymbol)
            {
                p = p[1..];
            }

            foreach (char c in p)
            {
                text.Append(c == SpaceSymbol ? ' ' : c);
            }
        }

        AppendBytes(text, bytes);
        return text.ToString();
    }

    /// <summary>Decodes pending byte pieces: each valid UTF-8 character as itself, every other byte as U+FFFD (sentencepiece consumes one byte then).</summary>
    private static void AppendBytes(StringBuilder text, List<byte> bytes)
    {
        ReadOnlySpan<byte> rest = CollectionsMarshal.AsSpan(bytes);
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(rest, out Rune rune, out int consumed) == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
                rest = rest[consumed..];
            }
            else
            {
                text.Append('\uFFFD');
                rest = rest[1..];
            }
        }

        bytes.Clear();
    }

    /// <inheritdoc/>
    private protected override int? VocabularyId(string piece) => _pieceToId.TryGetValue(piece, out int id) ? id : null;

    /// <inheritdoc/>
    private protected override string? VocabularyPiece(int id) => id >= 0 && id < _pieces.Count ? _pieces[id].Piece : null;

    private sealed record State(
        SentencePieceModelProto Model,
        SentencePieceEncoder Encoder,
        SentencePieceAligningNormalizer Normalizer,
        Dictionary<string, int> PieceToId,
        int SpmUnkId,
        TokenizerConfig Config,
        ResolvedTokens Tokens);

    /// <summary>Per-thread buffers of <see cref="EncodeSentence"/>, grown as needed and reused.</summary>
    private sealed class Scratch
    {
        private byte[] _utf8 = new byte[256];
        private int[] _byteToChar = new int[257];

        public List<byte> Normalized { get; } = new(256);

        public List<int> NormToOrig { get; } = new(257);

        public List<SentencePieceSegment> Segments { get; } = new(64);

        public byte[] Utf8(int length) => _utf8.Length >= length ? _utf8 : _utf8 = new byte[Math.Max(length, _utf8.Length * 2)];

        public int[] ByteToChar(int length) => _byteToChar.Length >= length ? _byteToChar : _byteToChar = new int[Math.Max(length, _byteToChar.Length * 2)];
    }
}
