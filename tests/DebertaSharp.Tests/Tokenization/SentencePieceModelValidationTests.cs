using System.Buffers.Binary;
using System.Text;
using DebertaSharp.Tokenization;
using Xunit;

namespace DebertaSharp.Tests.Tokenization;

/// <summary>
/// Damaged copies of Fixtures/tokenizer-v3/spm.model: odd pieces and a damaged precompiled chars map are refused at
/// load with a <see cref="TokenizerException"/> naming the file and the problem, never an IndexOutOfRangeException
/// later in Encode.
/// </summary>
public class SentencePieceModelValidationTests
{
    private static readonly Lazy<byte[]> Original = new(() => File.ReadAllBytes(Path.Combine(GoldenData.Folder("tokenizer-v3"), "spm.model")));

    public static TheoryData<string, string> Damages() => new()
    {
        { "type9", "has type 9" },
        { "duplicate", "repeats piece 5" },
        { "empty", "piece 7 is empty" },
        { "twoUnknown", "are both unknown pieces" },
        { "noUnknown", "no unknown piece" },
        { "byteWithoutFallback", "byte_fallback is false" },
        { "fallbackWithoutBytes", "no byte piece <0x00>" },
        { "badBytePiece", "not of the form <0xXX>" },
        { "unknownModelType", "of type 7" },
        { "charsMapTrieSize", "does not fit" },
        { "charsMapReplacements", "outside the" },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void DamagedModelIsRefusedAtLoad(string damage, string message)
    {
        using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
        File.WriteAllBytes(dir.File("spm.model"), Damage(damage));
        var ex = Assert.Throws<TokenizerException>(() => DebertaV2Tokenizer.FromPretrained(dir.Path));
        Assert.Contains("spm.model", ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void RandomlyDamagedCharsMapLoadsOrIsRefusedButEncodeNeverFails()
    {
        SentencePieceModelProto model = SentencePieceModelProto.Parse(Original.Value);
        byte[] map = model.PrecompiledCharsMap;
        int trieEnd = 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(map);
        var random = new Random(13);
        string[] texts = ["ＡＢＣ ﬁ ① café", "日本語 😀 x\u0301", "plain ascii text"];
        int refused = 0;
        for (int round = 0; round < 60; round++)
        {
            byte[] broken = (byte[])map.Clone();
            for (int k = 0; k < 8; k++)
            {
                broken[random.Next(4, round % 2 == 0 ? trieEnd : broken.Length)] = (byte)random.Next(256);
            }

            using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
            File.WriteAllBytes(dir.File("spm.model"), WithCharsMap(broken));
            DebertaV2Tokenizer tokenizer;
            try
            {
                tokenizer = DebertaV2Tokenizer.FromPretrained(dir.Path);
            }
            catch (TokenizerException ex)
            {
                Assert.Contains("spm.model", ex.Message);
                refused++;
                continue;
            }

            foreach (string text in texts)
            {
                tokenizer.Encode(text);
            }
        }

        Assert.True(refused > 0, "no damaged chars map was refused");
    }

    [Fact]
    public void RandomlyDamagedModelFileLoadsOrIsRefusedButEncodeNeverFails()
    {
        var random = new Random(29);
        string[] texts = ["ＡＢＣ ﬁ ① café [MASK] x", "日本語 😀 x\u0301\u0000", "plain ascii text with words"];
        for (int round = 0; round < 80; round++)
        {
            byte[] broken = (byte[])Original.Value.Clone();
            for (int k = 0; k < 1 + (round % 6); k++)
            {
                broken[random.Next(broken.Length)] = (byte)random.Next(256);
            }

            using TempFolder dir = TempFolder.CopyOf("tokenizer-v3");
            File.WriteAllBytes(dir.File("spm.model"), broken);
            DebertaV2Tokenizer tokenizer;
            try
            {
                tokenizer = DebertaV2Tokenizer.FromPretrained(dir.Path);
            }
            catch (TokenizerException ex)
            {
                Assert.Contains("spm.model", ex.Message);
                continue;
            }

            foreach (string text in texts)
            {
                try
                {
                    TokenEncoding e = tokenizer.Encode(text, "pair " + text);
                    tokenizer.Decode(e.InputIds);
                }
                catch (TokenizerException)
                {
                    // A damaged vocabulary may turn a special token into a control piece the text holds: a named error is fine.
                }
            }
        }
    }

    private static byte[] Damage(string damage)
    {
        List<(int Field, byte[] Value)> fields = TopLevel(Original.Value);
        var pieces = fields.Where(f => f.Field == 1).Select(f => ReadPiece(f.Value)).ToList();
        var others = fields.Where(f => f.Field != 1).ToList();
        var trainerExtra = new List<byte>(); // scalars appended to trainer_spec win: protobuf keeps the last value
        int unk = pieces.FindIndex(p => p.Type == 2);
        byte[] charsMap = SentencePieceModelProto.Parse(Original.Value).PrecompiledCharsMap;
        int trieSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(charsMap);
        switch (damage)
        {
            case "type9": pieces[5] = pieces[5] with { Type = 9 }; break;
            case "duplicate": pieces[6] = pieces[6] with { Piece = pieces[5].Piece }; break;
            case "empty": pieces[7] = pieces[7] with { Piece = "" }; break;
            case "twoUnknown": pieces[10] = pieces[10] with { Type = 2 }; break;
            case "noUnknown": pieces[unk] = pieces[unk] with { Type = 1 }; break;
            case "byteWithoutFallback": pieces[10] = pieces[10] with { Piece = "<0x41>", Type = 6 }; break;
            case "fallbackWithoutBytes": trainerExtra.AddRange(Varint(35, 1)); break;
            case "badBytePiece": pieces[10] = pieces[10] with { Piece = "<0x4g>", Type = 6 }; trainerExtra.AddRange(Varint(35, 1)); break;
            case "unknownModelType": trainerExtra.AddRange(Varint(3, 7)); break;
            case "charsMapTrieSize":
                byte[] badSize = (byte[])charsMap.Clone();
                BinaryPrimitives.WriteUInt32LittleEndian(badSize, (uint)charsMap.Length);
                return WithCharsMap(badSize);
            case "charsMapReplacements":
                return WithCharsMap(charsMap[..(4 + trieSize + ((charsMap.Length - 4 - trieSize) / 2))]);
            default: throw new ArgumentException(damage);
        }

        Assert.Contains(others, o => o.Field == 2);
        var output = new MemoryStream();
        foreach ((string piece, float score, int type) in pieces)
        {
            Write(output, 1, PieceBytes(piece, score, type));
        }

        foreach ((int field, byte[] value) in others)
        {
            Write(output, field, field == 2 ? [.. value, .. trainerExtra] : value);
        }

        return output.ToArray();
    }

    private static byte[] WithCharsMap(byte[] charsMap)
    {
        var output = new MemoryStream();
        foreach ((int field, byte[] value) in TopLevel(Original.Value))
        {
            if (field == 3)
            {
                var normalizer = new MemoryStream();
                normalizer.Write(value);
                Write(normalizer, 2, charsMap); // a repeated singular field: the last one wins
                Write(output, 3, normalizer.ToArray());
            }
            else
            {
                Write(output, field, value);
            }
        }

        return output.ToArray();
    }

    private static List<(int Field, byte[] Value)> TopLevel(byte[] data)
    {
        var result = new List<(int, byte[])>();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong tag = ReadVarint(data, ref pos);
            Assert.Equal(2UL, tag & 7); // ModelProto's top-level fields are all messages
            int length = (int)ReadVarint(data, ref pos);
            result.Add(((int)(tag >> 3), data[pos..(pos + length)]));
            pos += length;
        }

        return result;
    }

    private static (string Piece, float Score, int Type) ReadPiece(byte[] data)
    {
        string piece = "";
        float score = 0;
        int type = 1;
        int pos = 0;
        while (pos < data.Length)
        {
            ulong tag = ReadVarint(data, ref pos);
            switch (tag)
            {
                case (1 << 3) | 2:
                    int length = (int)ReadVarint(data, ref pos);
                    piece = Encoding.UTF8.GetString(data, pos, length);
                    pos += length;
                    break;
                case (2 << 3) | 5:
                    score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(pos));
                    pos += 4;
                    break;
                case (3 << 3) | 0:
                    type = (int)ReadVarint(data, ref pos);
                    break;
                default:
                    throw new InvalidDataException($"unexpected piece field tag {tag}");
            }
        }

        return (piece, score, type);
    }

    private static byte[] PieceBytes(string piece, float score, int type)
    {
        var s = new MemoryStream();
        Write(s, 1, Encoding.UTF8.GetBytes(piece));
        WriteVarint(s, (2 << 3) | 5);
        Span<byte> f = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(f, score);
        s.Write(f);
        WriteVarint(s, 3 << 3);
        WriteVarint(s, (ulong)type);
        return s.ToArray();
    }

    private static byte[] Varint(int field, ulong value)
    {
        var s = new MemoryStream();
        WriteVarint(s, (ulong)field << 3);
        WriteVarint(s, value);
        return s.ToArray();
    }

    private static void Write(Stream s, int field, byte[] value)
    {
        WriteVarint(s, ((ulong)field << 3) | 2);
        WriteVarint(s, (ulong)value.Length);
        s.Write(value);
    }

    private static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80)
        {
            s.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }

        s.WriteByte((byte)v);
    }

    private static ulong ReadVarint(byte[] data, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
    }
}
