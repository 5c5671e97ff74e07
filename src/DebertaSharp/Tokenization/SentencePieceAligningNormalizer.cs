using System.Text;

namespace DebertaSharp.Tokenization;

/// <summary>
/// SentencePiece's normalizer (<c>normalizer.cc</c>) that also records, for every normalized byte, the input
/// byte it came from (<c>norm_to_orig</c>), so that pieces can be mapped back to the original string.
/// Microsoft.ML.Tokenizers normalizes without such a map (its offsets point into the normalized text).
/// </summary>
internal sealed class SentencePieceAligningNormalizer
{
    private static readonly byte[] SpaceSymbol = [0xE2, 0x96, 0x81]; // U+2581 '▁'
    private static readonly byte[] ReplacementChar = [0xEF, 0xBF, 0xBD]; // U+FFFD

    private readonly SentencePieceCharsMap? _charsMap;
    private readonly SentencePieceTrie? _userDefined;

    // Per ASCII byte: PlainBeforeAscii if it normalizes to itself when followed by an ASCII byte, PlainAtEnd when last.
    private const byte PlainBeforeAscii = 1;
    private const byte PlainAtEnd = 2;
    private readonly byte[] _asciiPlain = new byte[128];
    private readonly bool _addDummyPrefix;
    private readonly bool _removeExtraWhitespaces;
    private readonly bool _escapeWhitespaces;
    private readonly bool _treatWhitespaceAsSuffix;

    /// <summary>Builds the normalizer of a model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="userDefined">Its user-defined pieces (<see cref="SentencePieceEncoder.UserDefined"/>), matched before normalization.</param>
    public SentencePieceAligningNormalizer(SentencePieceModelProto model, SentencePieceTrie? userDefined)
    {
        _charsMap = SentencePieceCharsMap.Create(model.PrecompiledCharsMap);
        _userDefined = userDefined;
        _addDummyPrefix = model.AddDummyPrefix;
        _removeExtraWhitespaces = model.RemoveExtraWhitespaces;
        _escapeWhitespaces = model.EscapeWhitespaces;
        _treatWhitespaceAsSuffix = model.TreatWhitespaceAsSuffix;
        for (int b = 0; b < 128; b++)
        {
            // A user-defined piece longer than this byte could match; one equal to it leaves the byte as it is.
            int user = userDefined?.Step(SentencePieceTrie.Root, (byte)b) ?? -1;
            if (user >= 0 && userDefined!.HasChildren(user))
            {
                continue;
            }

            bool isRule = false, continues = false;
            if (user < 0)
            {
                _charsMap?.Probe((byte)b, out isRule, out continues);
            }

            _asciiPlain[b] = isRule ? (byte)0 : (byte)(PlainAtEnd | (continues ? 0 : PlainBeforeAscii));
        }
    }

    /// <summary>
    /// Normalizes UTF-8 <paramref name="input"/> into <paramref name="normalized"/>; <paramref name="normToOrig"/>
    /// gets one input byte offset per normalized byte plus one for the end (so its count is normalized length + 1).
    /// </summary>
    public void Normalize(ReadOnlySpan<byte> input, List<byte> normalized, List<int> normToOrig)
    {
        normalized.Clear();
        normToOrig.Clear();
        if (input.IsEmpty)
        {
            return;
        }

        int consumed = 0;
        if (_removeExtraWhitespaces)
        {
            while (!input.IsEmpty)
            {
                int n = NormalizePrefix(input, out ReadOnlySpan<byte> sp);
                if (sp.Length != 1 || sp[0] != (byte)' ')
                {
                    break;
                }

                input = input[n..];
                consumed += n;
            }
        }

        if (input.IsEmpty)
        {
            return;
        }

        if (!_treatWhitespaceAsSuffix && _addDummyPrefix)
        {
            AddWhitespace(normalized, normToOrig, consumed);
        }

        bool isPrevSpace = _removeExtraWhitespaces;
        while (!input.IsEmpty)
        {
            int n = NormalizePrefix(input, out ReadOnlySpan<byte> sp);
            while (isPrevSpace && !sp.IsEmpty && sp[0] == (byte)' ')
            {
                sp = sp[1..];
            }

            if (!sp.IsEmpty)
            {
                foreach (byte b in sp)
                {
                    if (_escapeWhitespaces && b == (byte)' ')
                    {
                        AddWhitespace(normalized, normToOrig, consumed);
                    }
                    else
                    {
                        normalized.Add(b);
                        normToOrig.Add(consumed);
                    }
                }

                isPrevSpace = sp[^1] == (byte)' ';
            }

            consumed += n;
            input = input[n..];
            if (!_removeExtraWhitespaces)
            {
                isPrevSpace = false;
            }
        }

        if (_removeExtraWhitespaces)
        {
            ReadOnlySpan<byte> space = _escapeWhitespaces ? SpaceSymbol : " "u8;
            while (EndsWith(normalized, space))
            {
                int length = normalized.Count - space.Length;
                consumed = normToOrig[length];
                normalized.RemoveRange(length, space.Length);
                normToOrig.RemoveRange(length, space.Length);
            }
        }

        if (_treatWhitespaceAsSuffix && _addDummyPrefix)
        {
            AddWhitespace(normalized, normToOrig, consumed);
        }

        normToOrig.Add(consumed);
    }

    private void AddWhitespace(List<byte> normalized, List<int> normToOrig, int consumed)
    {
        if (_escapeWhitespaces)
        {
            foreach (byte b in SpaceSymbol)
            {
                normalized.Add(b);
                normToOrig.Add(consumed);
            }
        }
        else
        {
            normalized.Add((byte)' ');
            normToOrig.Add(consumed);
        }
    }

    /// <summary>The normalized form of the longest rule matching at the start of input, and how many input bytes it consumes.</summary>
    private int NormalizePrefix(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> normalized)
    {
        // Fast path: an ASCII byte that no rule or user-defined piece can start at this position.
        byte first = input[0];
        if (first < 0x80)
        {
            byte need = input.Length == 1 ? PlainAtEnd : input[1] < 0x80 ? PlainBeforeAscii : (byte)0;
            if ((_asciiPlain[first] & need) != 0)
            {
                normalized = input[..1];
                return 1;
            }
        }

        // User-defined pieces are matched before (and instead of) normalization, longest first.
        if (_userDefined is not null)
        {
            int matched = SentencePieceEncoder.PrefixMatch(_userDefined, input, out bool found);
            if (found)
            {
                normalized = input[..matched];
                return matched;
            }
        }

        if (_charsMap is not null)
        {
            int matched = _charsMap.LongestMatch(input, out normalized);
            if (matched > 0)
            {
                return matched;
            }
        }

        if (Rune.DecodeFromUtf8(input, out _, out int length) == System.Buffers.OperationStatus.Done)
        {
            normalized = input[..length];
            return length;
        }

        // Malformed UTF-8 (cannot come from a sanitized .NET string): U+FFFD for one byte, as sentencepiece does.
        normalized = ReplacementChar;
        return 1;
    }

    private static bool EndsWith(List<byte> bytes, ReadOnlySpan<byte> suffix)
    {
        if (bytes.Count < suffix.Length)
        {
            return false;
        }

        for (int i = 0; i < suffix.Length; i++)
        {
            if (bytes[bytes.Count - suffix.Length + i] != suffix[i])
            {
                return false;
            }
        }

        return true;
    }
}
