using System.Globalization;
using PieceType = DebertaSharp.Tokenization.SentencePieceModelProto.PieceType;

namespace DebertaSharp.Tokenization;

/// <summary>
/// Checks a parsed <c>spm.model</c> at load, before anything is built from it: what sentencepiece's
/// <c>ModelInterface::InitializePieces</c> refuses (empty or repeated pieces, no or two unknown pieces, byte pieces
/// without <c>byte_fallback</c> or not all 256 of them), piece types and model types sentencepiece does not know,
/// and a precompiled chars map whose trie or replacements point outside the blob.
/// </summary>
internal static class SentencePieceModelValidator
{
    /// <summary>Throws <see cref="TokenizerException"/> naming <paramref name="path"/> and the first problem found.</summary>
    public static void Validate(SentencePieceModelProto model, string path)
    {
        string Bad(string what) => $"'{path}' is not a valid SentencePiece model: {what}.";

        if (model.Pieces.Count == 0)
        {
            throw new TokenizerException(Bad("it has no pieces"));
        }

        if (model.ModelType is not (1 or 2 or 3 or 4))
        {
            throw new TokenizerException(
                $"'{path}' is a SentencePiece model of type {model.ModelType.ToString(CultureInfo.InvariantCulture)}; " +
                "sentencepiece knows unigram (1), BPE (2), word (3) and char (4).");
        }

        var seen = new Dictionary<string, int>(model.Pieces.Count, StringComparer.Ordinal);
        int unknown = -1;
        var bytes = new bool[256];
        for (int i = 0; i < model.Pieces.Count; i++)
        {
            (string piece, _, PieceType type) = model.Pieces[i];
            string id = i.ToString(CultureInfo.InvariantCulture);
            if (piece.Length == 0)
            {
                throw new TokenizerException(Bad($"piece {id} is empty"));
            }

            if (!Enum.IsDefined(type))
            {
                throw new TokenizerException(Bad($"piece {id} {Quote(piece)} has type {((int)type).ToString(CultureInfo.InvariantCulture)}, not one of 1..6"));
            }

            if (!seen.TryAdd(piece, i))
            {
                throw new TokenizerException(Bad($"piece {id} {Quote(piece)} repeats piece {seen[piece].ToString(CultureInfo.InvariantCulture)}"));
            }

            if (type == PieceType.Unknown)
            {
                if (unknown >= 0)
                {
                    throw new TokenizerException(Bad($"pieces {unknown.ToString(CultureInfo.InvariantCulture)} and {id} are both unknown pieces; there must be exactly one"));
                }

                unknown = i;
            }

            if (type == PieceType.Byte)
            {
                if (!model.ByteFallback)
                {
                    throw new TokenizerException(Bad($"byte piece {id} {Quote(piece)} is present although byte_fallback is false"));
                }

                int b = ByteOfPiece(piece);
                if (b < 0)
                {
                    throw new TokenizerException(Bad($"byte piece {id} {Quote(piece)} is not of the form <0xXX>"));
                }

                bytes[b] = true;
            }
        }

        if (unknown < 0)
        {
            throw new TokenizerException(Bad("it has no unknown piece; there must be exactly one"));
        }

        if (model.ByteFallback && Array.IndexOf(bytes, false) is int missing and >= 0)
        {
            throw new TokenizerException(Bad($"byte_fallback is true but there is no byte piece <0x{missing:X2}> (all 256 are needed)"));
        }

        try
        {
            SentencePieceCharsMap.Create(model.PrecompiledCharsMap)?.Validate();
        }
        catch (FormatException ex)
        {
            throw new TokenizerException(Bad(ex.Message), ex);
        }
    }

    /// <summary>The byte of a byte piece <c>&lt;0xXX&gt;</c> (upper-case hex, as sentencepiece writes them), or -1.</summary>
    public static int ByteOfPiece(string piece)
    {
        if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>')
        {
            return -1;
        }

        static int Hex(char c) => c is >= '0' and <= '9' ? c - '0' : c is >= 'A' and <= 'F' ? c - 'A' + 10 : -1;
        int hi = Hex(piece[3]), lo = Hex(piece[4]);
        return hi < 0 || lo < 0 ? -1 : (hi * 16) + lo;
    }

    private static string Quote(string piece) => System.Text.Json.JsonSerializer.Serialize(piece);
}
