using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace DebertaSharp.Checkpoints;

/// <summary>One record of a zip's central directory, checked against its local header.</summary>
/// <param name="Name">The record's name.</param>
/// <param name="Method">0 stored, 8 deflated.</param>
/// <param name="Crc32">The CRC-32 of the uncompressed bytes.</param>
/// <param name="CompressedSize">Bytes of the record's data in the file.</param>
/// <param name="UncompressedSize">Bytes once inflated.</param>
/// <param name="LocalHeaderOffset">Where the record's local header starts.</param>
/// <param name="DataOffset">Where its data starts (after the local header's name and extra field).</param>
internal sealed record ZipRecord(string Name, int Method, uint Crc32, long CompressedSize, long UncompressedSize, long LocalHeaderOffset, long DataOffset);

/// <summary>
/// An independent, strict reading of a zip archive's central directory, made before <see cref="System.IO.Compression.ZipArchive"/>
/// is trusted with the file (it checks none of this): the end record (and its zip64 form) lies inside the file; every
/// central record's sizes and offsets are capped by the file size; each names a local header with the same name and
/// method (and, without a data descriptor, the same CRC and sizes); no two records share a name or overlap; stored
/// records are as long as they claim. <see cref="CheckedRead"/> then verifies the CRC-32 and the length of the bytes
/// actually read, as Python's <c>zipfile</c> does.
/// </summary>
internal sealed class ZipDirectory
{
    private const uint EndSignature = 0x06054b50, Zip64EndSignature = 0x06064b50, Zip64LocatorSignature = 0x07064b50;
    private const uint CentralSignature = 0x02014b50, LocalSignature = 0x04034b50;

    /// <summary>Central directories above this are refused (a torch checkpoint of 10,000 tensors has about 1 MB).</summary>
    private const long MaxCentralDirectoryBytes = 256L << 20;

    private ZipDirectory(Dictionary<string, ZipRecord> records) => Records = records;

    /// <summary>The records by name.</summary>
    public IReadOnlyDictionary<string, ZipRecord> Records { get; }

    /// <summary>Reads and checks the central directory of <paramref name="stream"/> (the file <paramref name="path"/>).</summary>
    /// <exception cref="CheckpointException">Any rule of this class is broken; the message names the file and record.</exception>
    public static ZipDirectory Read(string path, Stream stream)
    {
        long fileLength = stream.Length;
        CheckpointException Bad(string detail) => new($"'{path}' is not a sound zip archive: {detail}");

        // The end record: 22 bytes plus a comment of up to 65535, at the very end.
        int tailLength = (int)Math.Min(fileLength, 22 + 65535 + 20);
        var tail = ReadAt(stream, fileLength - tailLength, tailLength);
        int end = -1;
        for (int i = tail.Length - 22; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndSignature && i + 22 + BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 20)) == tail.Length)
            {
                end = i;
                break;
            }
        }
        if (end < 0) throw Bad("no end-of-central-directory record.");
        long endOffset = fileLength - tailLength + end;
        long entries = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(end + 10));
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 12));
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 16));
        long cdLimit = endOffset;
        if (end >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end - 20)) == Zip64LocatorSignature)
        {
            long z64 = BinaryPrimitives.ReadInt64LittleEndian(tail.AsSpan(end - 20 + 8));
            if (z64 < 0 || z64 > endOffset - 20 - 56) throw Bad($"the zip64 end record offset {z64} lies outside the file.");
            var rec = ReadAt(stream, z64, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(rec) != Zip64EndSignature) throw Bad($"no zip64 end record at offset {z64}.");
            entries = BinaryPrimitives.ReadInt64LittleEndian(rec.AsSpan(32));
            cdSize = BinaryPrimitives.ReadInt64LittleEndian(rec.AsSpan(40));
            cdOffset = BinaryPrimitives.ReadInt64LittleEndian(rec.AsSpan(48));
            cdLimit = z64;
        }
        if (cdOffset < 0 || cdSize < 0 || cdSize > MaxCentralDirectoryBytes || cdOffset > cdLimit - cdSize)
            throw Bad($"the central directory [{cdOffset}, +{cdSize}) does not fit before its end record at {cdLimit}.");
        if (entries < 0 || entries > cdSize / 46)
            throw Bad($"{entries} records cannot fit in a central directory of {cdSize} bytes.");

        var cd = ReadAt(stream, cdOffset, (int)cdSize);
        var records = new Dictionary<string, ZipRecord>(StringComparer.Ordinal);
        int at = 0;
        for (long n = 0; n < entries; n++)
        {
            if (at > cd.Length - 46 || BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(at)) != CentralSignature)
                throw Bad($"central record {n} is missing or damaged.");
            var h = cd.AsSpan(at);
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]);
            int method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            long csize = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long usize = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            if (at + 46 + nameLength + extraLength + commentLength > cd.Length) throw Bad($"central record {n} runs past the central directory.");
            string name = Encoding.UTF8.GetString(h.Slice(46, nameLength));
            ReadZip64Extra(h.Slice(46 + nameLength, extraLength), ref usize, ref csize, ref localOffset);
            at += 46 + nameLength + extraLength + commentLength;

            string where = $"record '{name}'";
            if (usize < 0 || csize < 0 || localOffset < 0) throw Bad($"{where} has a size or offset beyond 2^63.");
            if (method is not (0 or 8)) throw Bad($"{where} uses compression method {method}; only stored (0) and deflate (8) are supported.");
            if ((flags & 1) != 0) throw Bad($"{where} is encrypted.");
            if (method == 0 && csize != usize) throw Bad($"{where} is stored but declares {csize} bytes in the file and {usize} once read.");
            // A deflate stream expands at most ~1032 times.
            if (method == 8 && usize > 2048 + csize * 1100L) throw Bad($"{where} declares {usize} bytes from {csize} compressed ones, more than deflate can expand.");
            if (localOffset > cdOffset - 30) throw Bad($"{where} points at a local header at {localOffset}, outside the data before the central directory ({cdOffset}).");

            var local = ReadAt(stream, localOffset, 30);
            if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalSignature) throw Bad($"{where} points at offset {localOffset}, where there is no local header.");
            int localFlags = BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(6));
            int localMethod = BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(8));
            uint localCrc = BinaryPrimitives.ReadUInt32LittleEndian(local.AsSpan(14));
            long localCsize = BinaryPrimitives.ReadUInt32LittleEndian(local.AsSpan(18));
            long localUsize = BinaryPrimitives.ReadUInt32LittleEndian(local.AsSpan(22));
            int localNameLength = BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(26));
            int localExtraLength = BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(28));
            long dataOffset = localOffset + 30 + localNameLength + localExtraLength;
            if (dataOffset > cdOffset || localNameLength != nameLength
                || !ReadAt(stream, localOffset + 30, localNameLength).AsSpan().SequenceEqual(h.Slice(46, nameLength)))
                throw Bad($"the local header at {localOffset} does not carry the name of {where}.");
            if (localMethod != method) throw Bad($"{where} has method {method} in the central directory but {localMethod} in its local header.");
            if ((localFlags & 8) == 0 && (localCrc != crc
                || (localCsize != 0xFFFFFFFF && localCsize != csize) || (localUsize != 0xFFFFFFFF && localUsize != usize)))
                throw Bad($"{where} has other CRC or sizes in its local header than in the central directory.");
            if (csize > cdOffset - dataOffset) throw Bad($"{where} declares {csize} bytes at {dataOffset}, past the start of the central directory ({cdOffset}).");
            if (!records.TryAdd(name, new ZipRecord(name, method, crc, csize, usize, localOffset, dataOffset)))
                throw Bad($"the name '{name}' has two records.");
        }

        // Records are laid out one after another: sorted by position, none may start inside the previous one's data.
        ZipRecord? previous = null;
        foreach (var r in records.Values.OrderBy(r => r.LocalHeaderOffset))
        {
            if (previous is not null && r.LocalHeaderOffset < previous.DataOffset + previous.CompressedSize)
                throw Bad($"record '{r.Name}' at {r.LocalHeaderOffset} overlaps record '{previous.Name}' ({previous.DataOffset} + {previous.CompressedSize} bytes).");
            previous = r;
        }
        return new ZipDirectory(records);
    }

    /// <summary>
    /// Runs <paramref name="consume"/> on the record's stream, then checks that the stream ends exactly at the
    /// declared size and that the CRC-32 of every byte matches the central directory's.
    /// </summary>
    /// <exception cref="CheckpointException">The bytes are too many or their CRC is wrong.</exception>
    public static void CheckedRead(string path, ZipRecord record, Stream source, Action<Stream> consume)
    {
        using var checking = new Crc32Stream(source);
        consume(checking);
        Span<byte> probe = stackalloc byte[1];
        if (checking.Read(probe) != 0)
            throw new CheckpointException($"'{path}': the record '{record.Name}' holds more than its declared {record.UncompressedSize} bytes.");
        if (checking.Count != record.UncompressedSize)
            throw new CheckpointException($"'{path}': the record '{record.Name}' holds {checking.Count} bytes, not its declared {record.UncompressedSize}.");
        uint crc = checking.Crc;
        if (crc != record.Crc32)
            throw new CheckpointException($"'{path}': the record '{record.Name}' is corrupt: its CRC-32 is {crc:x8}, the archive says {record.Crc32:x8}.");
    }

    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long usize, ref long csize, ref long offset)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int size = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (size > extra.Length - 4) return;
            var body = extra.Slice(4, size);
            if (id == 1)
            {
                if (usize == 0xFFFFFFFF && body.Length >= 8) { usize = BinaryPrimitives.ReadInt64LittleEndian(body); body = body[8..]; }
                if (csize == 0xFFFFFFFF && body.Length >= 8) { csize = BinaryPrimitives.ReadInt64LittleEndian(body); body = body[8..]; }
                if (offset == 0xFFFFFFFF && body.Length >= 8) { offset = BinaryPrimitives.ReadInt64LittleEndian(body); }
                return;
            }
            extra = extra[(4 + size)..];
        }
    }

    private static byte[] ReadAt(Stream stream, long offset, int count)
    {
        var buffer = new byte[count];
        stream.Position = offset;
        stream.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>A read-only pass-through that counts the bytes read and hashes them.</summary>
    private sealed class Crc32Stream(Stream inner) : Stream
    {
        private readonly System.IO.Hashing.Crc32 _crc = new();

        public long Count { get; private set; }

        public uint Crc => _crc.GetCurrentHashAsUInt32();

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            _crc.Append(buffer[..n]);
            Count += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
