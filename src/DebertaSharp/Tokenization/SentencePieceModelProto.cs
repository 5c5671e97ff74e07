using System.Buffers.Binary;
using System.Text;

namespace DebertaSharp.Tokenization;

/// <summary>
/// The parts of a SentencePiece <c>.model</c> file (a <c>sentencepiece.ModelProto</c> protobuf) that the encoder
/// needs: pieces with scores and types, the model type and byte fallback, the normalizer spec and its precompiled
/// chars map. Read with a minimal protobuf reader; unknown fields are skipped.
/// </summary>
internal sealed class SentencePieceModelProto
{
    /// <summary>Piece types of <c>ModelProto.SentencePiece.Type</c>.</summary>
    public enum PieceType
    {
        /// <summary>A normal piece.</summary>
        Normal = 1,

        /// <summary>The unknown piece.</summary>
        Unknown = 2,

        /// <summary>A control piece (<c>[CLS]</c>, …), never produced from text.</summary>
        Control = 3,

        /// <summary>A user-defined piece, always matched as a whole and left unnormalized.</summary>
        UserDefined = 4,

        /// <summary>An unused piece.</summary>
        Unused = 5,

        /// <summary>A byte-fallback piece (<c>&lt;0x41&gt;</c>).</summary>
        Byte = 6,
    }

    /// <summary>Pieces in id order.</summary>
    public List<(string Piece, float Score, PieceType Type)> Pieces { get; } = [];

    /// <summary><c>TrainerSpec.model_type</c>: 1 unigram (the default), 2 BPE, 3 word, 4 char.</summary>
    public int ModelType { get; private set; } = 1;

    /// <summary><c>TrainerSpec.treat_whitespace_as_suffix</c>.</summary>
    public bool TreatWhitespaceAsSuffix { get; private set; }

    /// <summary><c>TrainerSpec.byte_fallback</c>.</summary>
    public bool ByteFallback { get; private set; }

    /// <summary><c>NormalizerSpec.precompiled_charsmap</c> (empty for the identity normalization).</summary>
    public byte[] PrecompiledCharsMap { get; private set; } = [];

    /// <summary><c>NormalizerSpec.add_dummy_prefix</c> (default true).</summary>
    public bool AddDummyPrefix { get; private set; } = true;

    /// <summary><c>NormalizerSpec.remove_extra_whitespaces</c> (default true).</summary>
    public bool RemoveExtraWhitespaces { get; private set; } = true;

    /// <summary><c>NormalizerSpec.escape_whitespaces</c> (default true).</summary>
    public bool EscapeWhitespaces { get; private set; } = true;

    /// <summary>Parses the file content.</summary>
    /// <exception cref="FormatException">The bytes are not a well-formed ModelProto.</exception>
    public static SentencePieceModelProto Parse(ReadOnlySpan<byte> data)
    {
        var model = new SentencePieceModelProto();
        var reader = new Reader(data);
        while (!reader.End)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (1, 2):
                    model.Pieces.Add(ParsePiece(reader.Bytes()));
                    break;
                case (2, 2):
                    model.ParseTrainerSpec(reader.Bytes());
                    break;
                case (3, 2):
                    model.ParseNormalizerSpec(reader.Bytes());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return model;
    }

    private static (string, float, PieceType) ParsePiece(ReadOnlySpan<byte> data)
    {
        string piece = string.Empty;
        float score = 0;
        var type = PieceType.Normal;
        var reader = new Reader(data);
        while (!reader.End)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (1, 2):
                    piece = Utf8(reader.Bytes());
                    break;
                case (2, 5):
                    score = BitConverter.Int32BitsToSingle((int)reader.Fixed32());
                    break;
                case (3, 0):
                    type = (PieceType)(int)reader.Varint();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return (piece, score, type);
    }

    private void ParseTrainerSpec(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        while (!reader.End)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (3, 0):
                    ModelType = (int)reader.Varint();
                    break;
                case (24, 0):
                    TreatWhitespaceAsSuffix = reader.Varint() != 0;
                    break;
                case (35, 0):
                    ByteFallback = reader.Varint() != 0;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    private void ParseNormalizerSpec(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        while (!reader.End)
        {
            (int field, int wire) = reader.Tag();
            switch (field, wire)
            {
                case (2, 2):
                    PrecompiledCharsMap = reader.Bytes().ToArray();
                    break;
                case (3, 0):
                    AddDummyPrefix = reader.Varint() != 0;
                    break;
                case (4, 0):
                    RemoveExtraWhitespaces = reader.Varint() != 0;
                    break;
                case (5, 0):
                    EscapeWhitespaces = reader.Varint() != 0;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    private static string Utf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new FormatException("a piece is not valid UTF-8", ex);
        }
    }

    /// <summary>Protobuf wire-format reader over a span, with bounds checks that throw <see cref="FormatException"/>.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly bool End => _pos >= _data.Length;

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            int field = (int)(tag >> 3);
            if (field <= 0)
            {
                throw new FormatException($"invalid field number at byte {_pos}");
            }

            return (field, (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (_pos >= _data.Length)
                {
                    throw new FormatException("truncated varint");
                }

                byte b = _data[_pos++];
                result |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return result;
                }
            }

            throw new FormatException("varint longer than 10 bytes");
        }

        public uint Fixed32()
        {
            if (_pos + 4 > _data.Length)
            {
                throw new FormatException("truncated fixed32");
            }

            uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_pos, 4));
            _pos += 4;
            return v;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            ulong length = Varint();
            if (length > (ulong)(_data.Length - _pos))
            {
                throw new FormatException($"length-delimited field of {length} bytes runs past the end at byte {_pos}");
            }

            ReadOnlySpan<byte> slice = _data.Slice(_pos, (int)length);
            _pos += (int)length;
            return slice;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0:
                    Varint();
                    break;
                case 1:
                    if (_pos + 8 > _data.Length)
                    {
                        throw new FormatException("truncated fixed64");
                    }

                    _pos += 8;
                    break;
                case 2:
                    Bytes();
                    break;
                case 5:
                    Fixed32();
                    break;
                default:
                    throw new FormatException($"unsupported wire type {wire} at byte {_pos}");
            }
        }
    }
}
