using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.Tokenizers;
using PieceType = DebertaSharp.Tokenization.SentencePieceModelProto.PieceType;

namespace DebertaSharp.Tokenization;

/// <summary>
/// The DeBERTa-v2 / v3 / mDeBERTa tokenizer: a SentencePiece unigram model (<c>spm.model</c>) with the same ids,
/// pieces and decoding as HuggingFace's <c>DebertaV2Tokenizer</c> (transformers 4.44), plus character offsets
/// into the original text.
/// </summary>
/// <remarks>
/// The unigram search is Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/>. Around it this class adds what
/// that library lacks for DeBERTa: HF's splitting on added/special tokens (<c>[MASK]</c> outside the spm vocabulary),
/// sentencepiece's merging of a run of unknown characters into one <c>[UNK]</c>, normalization with an alignment
/// back to the original string (so offsets are spans of the input, not of the normalized text),
/// <c>do_lower_case</c> and <c>split_by_punct</c>.
/// </remarks>
public sealed class DebertaV2Tokenizer : DebertaTokenizerBase
{
    /// <summary>The SentencePiece model file name HF uses for DeBERTa-v2/v3.</summary>
    public const string ModelFileName = "spm.model";

    private const char SpaceSymbol = '\u2581';
    private const string UnknownSurface = " \u2047 ";

    private readonly SentencePieceTokenizer _spm;
    private readonly SentencePieceAligningNormalizer _normalizer;
    private readonly List<(string Piece, float Score, PieceType Type)> _pieces;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly int _spmUnkId;

    private DebertaV2Tokenizer(State state)
        : base(state.Tokens, state.Config, "[PAD]")
    {
        _spm = state.Spm;
        _normalizer = state.Normalizer;
        _pieces = state.Model.Pieces;
        _pieceToId = state.PieceToId;
        _spmUnkId = state.SpmUnkId;
        DoLowerCase = state.Config.DoLowerCase;
        SplitByPunct = state.Config.SplitByPunct;
        VocabularySize = _pieces.Count + state.Tokens.TokensBeyondVocabulary;
    }

    /// <summary>Lower-cases text before tokenization (<c>do_lower_case</c>).</summary>
    public bool DoLowerCase { get; }

    /// <summary>Splits text at punctuation and tokenizes each part separately (<c>split_by_punct</c>).</summary>
    public bool SplitByPunct { get; }

    /// <summary>Number of pieces in <c>spm.model</c> (128000 for deberta-v3; <c>[MASK]</c> comes after them).</summary>
    public int PieceCount => _pieces.Count;

    /// <inheritdoc/>
    public override int VocabularySize { get; }

    /// <summary>The SentencePiece model.</summary>
    private protected override IReadOnlyList<string> ModelFileNames => [ModelFileName];

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
        SentencePieceAligningNormalizer normalizer;
        try
        {
            normalizer = new SentencePieceAligningNormalizer(model);
        }
        catch (FormatException ex)
        {
            throw new TokenizerException($"'{path}' is not a valid SentencePiece model: {ex.Message}.", ex);
        }

        SentencePieceTokenizer spm;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            spm = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new TokenizerException($"'{path}' could not be loaded by Microsoft.ML.Tokenizers: {ex.Message}", ex);
        }

        var pieceToId = new Dictionary<string, int>(model.Pieces.Count, StringComparer.Ordinal);
        for (int i = 0; i < model.Pieces.Count; i++)
        {
            pieceToId.TryAdd(model.Pieces[i].Piece, i);
        }

        int spmUnkId = model.Pieces.FindIndex(p => p.Type == PieceType.Unknown);
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

        return new DebertaV2Tokenizer(new State(model, spm, normalizer, pieceToId, spmUnkId, config, tokens));
    }

    private static SentencePieceModelProto ParseModel(byte[] bytes, string path)
    {
        SentencePieceModelProto model;
        try
        {
            model = SentencePieceModelProto.Parse(bytes);
        }
        catch (FormatException ex)
        {
            throw new TokenizerException($"'{path}' is not a valid SentencePiece model: {ex.Message}.", ex);
        }

        if (model.Pieces.Count == 0)
        {
            throw new TokenizerException($"'{path}' is not a valid SentencePiece model: it has no pieces.");
        }

        if (model.Pieces.Count(p => p.Type == PieceType.Unknown) != 1)
        {
            throw new TokenizerException($"'{path}' is not a valid SentencePiece model: it must have exactly one unknown piece.");
        }

        if (model.ModelType != 1)
        {
            throw new TokenizerException(
                $"'{path}' is a SentencePiece model of type {model.ModelType.ToString(CultureInfo.InvariantCulture)}; DeBERTa uses unigram models (type 1).");
        }

        return model;
    }

    /// <inheritdoc/>
    private protected override void TokenizeText(string text, int start, int end, List<TokenPiece> output)
    {
        string work = text;
        int origin = 0;
        if (DoLowerCase)
        {
            // Char-wise invariant lower-casing keeps the length, so offsets stay aligned (Python's lower() differs for a few letters such as 'İ').
            work = string.Create(end - start, (text, start), static (span, state) =>
                state.text.AsSpan(state.start, span.Length).ToLowerInvariant(span));
            origin = start;
            end -= start;
            start = 0;
        }

        if (!SplitByPunct)
        {
            EncodeSentence(work, start, end, origin, output);
            return;
        }

        int wordStart = start;
        for (int i = start; i < end;)
        {
            Rune.DecodeFromUtf16(work.AsSpan(i, end - i), out Rune rune, out int length);
            if (IsPunctuation(rune))
            {
                EncodeSentence(work, wordStart, i, origin, output);
                EncodeSentence(work, i, i + length, origin, output);
                wordStart = i + length;
            }

            i += length;
        }

        EncodeSentence(work, wordStart, end, origin, output);
    }

    /// <summary>
    /// What python sentencepiece's <c>encode(text, out_type=str)</c> does for <c>text[start..end]</c>, with spans:
    /// normalize with an alignment, run ML.Tokenizers' unigram search on the normalized text, merge unknown runs,
    /// and map every piece back through normalized byte → original byte → original char.
    /// </summary>
    private void EncodeSentence(string text, int start, int end, int origin, List<TokenPiece> output)
    {
        if (end <= start)
        {
            return;
        }

        ReadOnlySpan<char> span = text.AsSpan(start, end - start);
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(span)];
        System.Text.Encoding.UTF8.GetBytes(span, bytes);

        // byteToChar[b] = index (in span) of the char holding byte b; byteToChar[^1] = span.Length.
        int[] byteToChar = new int[bytes.Length + 1];
        for (int c = 0, b = 0; c < span.Length;)
        {
            Rune.DecodeFromUtf16(span[c..], out Rune rune, out int units);
            for (int j = 0; j < rune.Utf8SequenceLength; j++)
            {
                byteToChar[b++] = c;
            }

            c += units;
        }

        byteToChar[^1] = span.Length;

        var normalizedBytes = new List<byte>(bytes.Length + 8);
        var normToOrig = new List<int>(bytes.Length + 9);
        _normalizer.Normalize(bytes, normalizedBytes, normToOrig);
        if (normalizedBytes.Count == 0)
        {
            return;
        }

        string normalized = System.Text.Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(normalizedBytes));
        int[] charToNormByte = new int[normalized.Length + 1];
        for (int c = 0, b = 0; c < normalized.Length;)
        {
            Rune.DecodeFromUtf16(normalized.AsSpan(c), out Rune rune, out int units);
            for (int j = 0; j < units; j++)
            {
                charToNormByte[c + j] = b;
            }

            b += rune.Utf8SequenceLength;
            c += units;
        }

        charToNormByte[^1] = normalizedBytes.Count;

        IReadOnlyList<EncodedToken> tokens = _spm.EncodeToTokens(
            normalized, out _, addBeginningOfSentence: false, addEndOfSentence: false,
            considerPreTokenization: false, considerNormalization: false);

        int first = output.Count;
        foreach (EncodedToken token in tokens)
        {
            int origStart = normToOrig[charToNormByte[token.Offset.Start.Value]];
            int origEnd = normToOrig[charToNormByte[token.Offset.End.Value]];
            int charStart = start + origin + byteToChar[origStart];
            int charEnd = start + origin + byteToChar[origEnd];

            // ML.Tokenizers emits one unknown piece per character; sentencepiece merges a run into one.
            bool unknown = token.Id == _spmUnkId;
            if (unknown && output.Count > first && output[^1].Id == _spmUnkId)
            {
                TokenPiece last = output[^1];
                output[^1] = last with { Token = last.Token + token.Value, End = charEnd };
                continue;
            }

            output.Add(new TokenPiece(token.Id, token.Value, charStart, charEnd));
        }
    }

    /// <summary>BERT's <c>_is_punctuation</c>: ASCII symbols and every Unicode P* category.</summary>
    private static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

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

    /// <summary>sentencepiece's <c>DecodePieces</c> (0.1.9x): control pieces vanish, the first piece loses its leading '▁', '▁' → ' '.</summary>
    private string DecodePieces(List<string> pieces)
    {
        var text = new StringBuilder();
        foreach (string piece in pieces)
        {
            int id = _pieceToId.TryGetValue(piece, out int known) ? known : _spmUnkId;
            PieceType type = _pieces[id].Type;
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

        return text.ToString();
    }

    /// <inheritdoc/>
    private protected override int? VocabularyId(string piece) => _pieceToId.TryGetValue(piece, out int id) ? id : null;

    /// <inheritdoc/>
    private protected override string? VocabularyPiece(int id) => id >= 0 && id < _pieces.Count ? _pieces[id].Piece : null;

    private sealed record State(
        SentencePieceModelProto Model,
        SentencePieceTokenizer Spm,
        SentencePieceAligningNormalizer Normalizer,
        Dictionary<string, int> PieceToId,
        int SpmUnkId,
        TokenizerConfig Config,
        ResolvedTokens Tokens);
}
