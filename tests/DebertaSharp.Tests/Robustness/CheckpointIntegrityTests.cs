using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using DebertaSharp.Checkpoints;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Checkpoints;
using DebertaSharp.Tests.Modeling;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// Corrupt checkpoints the reliability campaign loaded silently: safetensors data sections with holes, overlaps or
/// trailing bytes (a header length off by one shifts every tensor), and <c>pytorch_model.bin</c> zips with wrong CRCs,
/// inconsistent records or impossible sizes.
/// </summary>
public class CheckpointIntegrityTests
{
    private const string T = "{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [";

    [Theory]
    [InlineData("{\"a\": " + T + "0, 4]}, \"b\": " + T + "8, 12]}}", 12, "hole")]
    [InlineData("{\"a\": " + T + "0, 4]}}", 8, "trailing")]
    [InlineData("{\"a\": " + T + "4, 8]}}", 8, "hole")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": " + T + "4, 8]}}", 8, "overlap")]
    public void SafetensorsDataMustBeCoveredExactly(string header, int dataBytes, string fragment)
    {
        using var tmp = new TempDir();
        string path = Path.Combine(tmp.Path, "model.safetensors");
        WriteRawSafetensors(path, header, dataBytes);
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void HeaderLengthOffByOneIsRefusedNotLoadedShifted()
    {
        using var tmp = new TempDir();
        foreach (var f in Directory.GetFiles(Golden("deberta-v3-heads", "seqcls")))
            File.Copy(f, Path.Combine(tmp.Path, Path.GetFileName(f)));
        string path = Path.Combine(tmp.Path, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal((byte)' ', bytes[8 + (int)n - 1]); // HF pads the header with spaces: one less still parses
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, n - 1);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains("trailing", e.Message);
    }

    /// <summary>Offset of the central (PK\1\2, 46-byte) or local (PK\3\4, 30-byte) header of <paramref name="name"/>.</summary>
    private static int HeaderOf(byte[] zip, string name, bool central)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        int fixedLength = central ? 46 : 30;
        uint signature = central ? 0x02014b50u : 0x04034b50u;
        for (int i = 0; i + fixedLength + nameBytes.Length <= zip.Length; i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i)) == signature
                && BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(i + fixedLength - (central ? 18 : 4))) == nameBytes.Length
                && zip.AsSpan(i + fixedLength, nameBytes.Length).SequenceEqual(nameBytes))
                return i;
        }
        throw new InvalidOperationException($"no header for {name}");
    }

    private static void OpenAndReadAll(string path)
    {
        using var reader = CheckpointReader.Open(path);
        foreach (var key in reader.Keys)
        {
            using var t = reader.Read(key);
        }
    }

    [Fact]
    public void OneFlippedBitInAStoredWeightFailsItsCrc()
    {
        using var tmp = new TempDir();
        foreach (var f in Directory.GetFiles(Golden("deberta-v3-heads", "tokcls-bin")))
            File.Copy(f, Path.Combine(tmp.Path, Path.GetFileName(f)));
        string path = Path.Combine(tmp.Path, "pytorch_model.bin");
        var bytes = File.ReadAllBytes(path);
        int local = HeaderOf(bytes, "pytorch_model/data/0", central: false);
        int data = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(local + 26)) + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(local + 28));
        bytes[data + 100] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => AutoModel.FromPretrained(tmp.Path));
        Assert.Contains("CRC", e.Message);
        Assert.Contains("pytorch_model/data/0", e.Message);
    }

    [Fact]
    public void TwoCentralRecordsSharingOneLocalRecordAreRefused()
    {
        using var tmp = new TempDir();
        string path = Path.Combine(tmp.Path, "pytorch_model.bin");
        var bytes = File.ReadAllBytes(CheckpointFixture("views.bin"));
        // data/7 (4 bytes) now points at data/6's local record (8 bytes): the bytes of another tensor.
        int target = HeaderOf(bytes, "views_archive/data/6", central: false);
        int central = HeaderOf(bytes, "views_archive/data/7", central: true);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(central + 42), (uint)target);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => OpenAndReadAll(path));
        Assert.Contains("views_archive/data/7", e.Message);
    }

    [Fact]
    public void DeclaredSizesBeyondTheFileAreRefusedBeforeAnyAllocation()
    {
        using var tmp = new TempDir();
        string path = Path.Combine(tmp.Path, "pytorch_model.bin");
        var bytes = File.ReadAllBytes(CheckpointFixture("views.bin"));
        // Central and local headers agree on a 4 GB record in a file of a few kilobytes.
        int central = HeaderOf(bytes, "views_archive/data/0", central: true);
        int local = HeaderOf(bytes, "views_archive/data/0", central: false);
        foreach (int at in new[] { central + 20, central + 24, local + 18, local + 22 })
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), 0xF0000000u);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(path));
        Assert.Contains("past the start of the central directory", e.Message);
    }

    [Fact]
    public void ARecordInflatingPastItsDeclaredSizeIsRefused()
    {
        using var tmp = new TempDir();
        string path = Path.Combine(tmp.Path, "pytorch_model.bin");
        // views.bin re-zipped with data/0 deflated and twice as long as its declared 96 bytes.
        using (var source = ZipFile.OpenRead(CheckpointFixture("views.bin")))
        using (var output = File.Create(path))
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create))
        {
            foreach (var entry in source.Entries)
            {
                using var input = entry.Open();
                var content = new MemoryStream();
                input.CopyTo(content);
                byte[] b = content.ToArray();
                bool grow = entry.FullName == "views_archive/data/0";
                using var s = zip.CreateEntry(entry.FullName, grow ? CompressionLevel.Optimal : CompressionLevel.NoCompression).Open();
                s.Write(grow ? [.. b, .. b] : b);
            }
        }
        var bytes = File.ReadAllBytes(path);
        foreach (var (at, field) in new[] { (HeaderOf(bytes, "views_archive/data/0", true), 24), (HeaderOf(bytes, "views_archive/data/0", false), 22) })
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + field), 96);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointException>(() => OpenAndReadAll(path));
        Assert.Contains("views_archive/data/0", e.Message);
    }

    [Fact]
    public void IntactBinFilesStillLoad()
    {
        OpenAndReadAll(CheckpointFixture("views.bin"));
        OpenAndReadAll(Golden("deberta-v3-heads", "tokcls-bin", "pytorch_model.bin"));
    }
}
