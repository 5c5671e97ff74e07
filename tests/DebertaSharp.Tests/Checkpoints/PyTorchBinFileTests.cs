using DebertaSharp.Checkpoints;
using TorchSharp;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Checkpoints;

public class PyTorchBinFileTests
{
    [Fact]
    public void GoldenBinIsBitIdenticalToTheSafetensorsCopy()
    {
        using var bin = PyTorchBinFile.Open(Golden("deberta-v3-heads", "tokcls-bin", "pytorch_model.bin"));
        using var st = SafetensorsFile.Open(Golden("deberta-v3-heads", "tokcls", "model.safetensors"));
        Assert.Equal(st.Entries.Select(e => e.Name).Order(StringComparer.Ordinal), bin.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
        foreach (var entry in bin.Entries)
        {
            var other = st.GetEntry(entry.Name);
            Assert.Equal(other.DType, entry.DType);
            Assert.Equal(other.Shape, entry.Shape);
            Assert.Equal(other.ByteLength, entry.ByteLength);
            using var a = bin.Read(entry.Name);
            using var b = st.Read(entry.Name);
            Assert.True(a.is_contiguous());
            Assert.Equal(Bytes(b), Bytes(a));
        }
    }

    [Fact]
    public void StridedViewsOffsetsAndSharedStoragesAreRebuilt()
    {
        // views.bin was pickled by Python's pickle module (make_fixtures.py): storage "0" is arange(24) as float32.
        using var file = PyTorchBinFile.Open(CheckpointFixture("views.bin"));
        using var storage = torch.arange(24, torch.float32);
        void Check(string key, long[] size, long[] stride, long offset)
        {
            using var expected = storage.as_strided(size, stride, offset);
            using var actual = file.Read(key);
            Assert.Equal(size, actual.shape);
            Assert.True(actual.is_contiguous());
            Assert.True(Identical(actual, expected), key);
        }
        Check("full", [4, 6], [6, 1], 0);
        Check("transposed", [6, 4], [1, 6], 0);
        Check("row2", [6], [1], 12);
        Check("column1", [4], [6], 1);
        Check("scalar", [], [], 5);
        Check("param", [24], [1], 0);
        Check("empty", [0, 3], [3, 1], 0);
        Assert.Equal(
            ["full", "transposed", "row2", "column1", "scalar", "param", "empty", "half", "bf16", "long", "bool", "double", "int", "short", "char", "byte"],
            file.Entries.Select(e => e.Name));

        // Tensors read from a shared storage do not alias each other.
        using var full = file.Read("full");
        using var row = file.Read("row2");
        row.fill_(-1);
        Assert.Equal(12f, full[2, 0].item<float>());
    }

    [Fact]
    public void EveryStorageTypeIsDecoded()
    {
        using var file = PyTorchBinFile.Open(CheckpointFixture("views.bin"));
        var dtypes = file.Entries.ToDictionary(e => e.Name, e => e.DType);
        Assert.Equal("F16", dtypes["half"]);
        Assert.Equal("BF16", dtypes["bf16"]);
        Assert.Equal("I64", dtypes["long"]);
        Assert.Equal("BOOL", dtypes["bool"]);
        Assert.Equal("F64", dtypes["double"]);
        Assert.Equal("I32", dtypes["int"]);
        Assert.Equal("I16", dtypes["short"]);
        Assert.Equal("I8", dtypes["char"]);
        Assert.Equal("U8", dtypes["byte"]);

        using (var t = file.Read("long")) Assert.Equal([-1L, 1L << 40, 7L], t.data<long>().ToArray());
        using (var t = file.Read("bool")) Assert.Equal([true, false, true], t.data<bool>().ToArray());
        using (var t = file.Read("double")) Assert.Equal([0.1, -1e300], t.data<double>().ToArray());
        using (var t = file.Read("int")) Assert.Equal([int.MinValue, 5], t.data<int>().ToArray());
        using (var t = file.Read("short")) Assert.Equal([(short)-300, (short)300], t.data<short>().ToArray());
        using (var t = file.Read("char")) Assert.Equal([(sbyte)-128, (sbyte)127], t.data<sbyte>().ToArray());
        using (var t = file.Read("byte")) Assert.Equal([(byte)0, (byte)255], t.data<byte>().ToArray());
        using (var t = file.Read("half"))
        using (var f = t.to_type(torch.float32))
        {
            Assert.Equal([2L, 2L], t.shape);
            Assert.Equal([1.0f, -2.5f, 0.333251953125f, 65504f], f.data<float>().ToArray());
        }
        using (var t = file.Read("bf16"))
        using (var f = t.to_type(torch.float32))
        {
            float truncated = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(1e-3f) & unchecked((int)0xFFFF0000));
            Assert.Equal([1.0f, -3.140625f, truncated], f.data<float>().ToArray());
        }
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("torch", "load")]
    [InlineData("torch._utils", "_rebuild_qtensor")]
    public void ForbiddenGlobalsAreRefusedByName(string module, string name)
    {
        using var temp = new TempFolder();
        string path = temp.File("evil.bin");
        // {'a': os.system('true')} with GLOBAL; the same through STACK_GLOBAL below.
        var pickle = new PickleBuilder().Op('}').Str("a").Global(module, name).Str("true").Raw(0x85).Op('R').Op('s').Op('.').Build();
        WriteTorchZip(path, "archive", pickle, new Dictionary<string, byte[]>());
        var e = Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(path));
        Assert.Contains($"'{module}.{name}'", e.Message);
        Assert.Contains(path, e.Message);

        var stackGlobal = new PickleBuilder().Op('}').Str("a").Str(module).Str(name).Raw(0x93).Str("true").Raw(0x85).Op('R').Op('s').Op('.').Build();
        WriteTorchZip(path, "archive", stackGlobal, new Dictionary<string, byte[]>());
        e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(path));
        Assert.Contains($"'{module}.{name}'", e.Message);
    }

    [Fact]
    public void HandBuiltArchiveWithAnyPrefixAndLong1IntegersReads()
    {
        using var temp = new TempFolder();
        string path = temp.File("custom.pt");
        var values = new float[] { 1, 2, 3, 4, 5, 6 };
        var record = new byte[24];
        Buffer.BlockCopy(values, 0, record, 0, 24);
        var pickle = new PickleBuilder()
            .Global("collections", "OrderedDict").Op(')').Op('R')
            .Op('(')
            .Str("w").Tensor("FloatStorage", "k0", 6, 0, [3, 2], [1, 3])
            .Str("tail").Tensor("FloatStorage", "k0", 6, 4, [2], [1])
            .Str("big").Tensor("LongStorage", "k1", 300, 0, [300], [1]) // 300 is pickled as LONG1
            .Op('u').Op('.').Build();
        var longs = Enumerable.Range(0, 300).Select(i => (long)i * 1_000_000_007L).ToArray();
        var bigRecord = new byte[300 * 8];
        Buffer.BlockCopy(longs, 0, bigRecord, 0, bigRecord.Length);
        WriteTorchZip(path, "some/odd name", pickle, new Dictionary<string, byte[]> { ["k0"] = record, ["k1"] = bigRecord });
        // the prefix must be a single folder: "some/odd name/data.pkl" is two levels deep
        Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(path));

        WriteTorchZip(path, "odd name", pickle, new Dictionary<string, byte[]> { ["k0"] = record, ["k1"] = bigRecord });
        using var file = PyTorchBinFile.Open(path);
        using var w = file.Read("w");
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, w.data<float>().ToArray());
        using var tail = file.Read("tail");
        Assert.Equal(new float[] { 5, 6 }, tail.data<float>().ToArray());
        using var big = file.Read("big");
        Assert.Equal(longs, big.data<long>().ToArray());
    }

    [Fact]
    public void ViewsOutsideTheirStorageAndMissingRecordsAreRefused()
    {
        using var temp = new TempFolder();
        string path = temp.File("bad.bin");
        var record = new byte[24];
        var beyond = new PickleBuilder().Op('}').Str("w").Tensor("FloatStorage", "0", 6, 2, [5], [1]).Op('s').Op('.').Build();
        WriteTorchZip(path, "a", beyond, new Dictionary<string, byte[]> { ["0"] = record });
        var e = Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(path));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("reaches element 6", e.Message);

        var fine = new PickleBuilder().Op('}').Str("w").Tensor("FloatStorage", "0", 6, 0, [6], [1]).Op('s').Op('.').Build();
        WriteTorchZip(path, "a", fine, new Dictionary<string, byte[]>());
        e = Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(path));
        Assert.Contains("'a/data/0' is missing", e.Message);

        WriteTorchZip(path, "a", fine, new Dictionary<string, byte[]> { ["0"] = new byte[20] });
        e = Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(path));
        Assert.Contains("has 20 bytes", e.Message);

        var truncated = fine[..^5];
        WriteTorchZip(path, "a", truncated, new Dictionary<string, byte[]> { ["0"] = record });
        e = Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void LegacyAndNonZipFilesAreRefusedWithAdvice()
    {
        var e = Assert.Throws<CheckpointException>(() => PyTorchBinFile.Open(CheckpointFixture("legacy.bin")));
        Assert.Contains("legacy", e.Message);
        Assert.Contains("safetensors", e.Message);
        Assert.Contains(CheckpointFixture("legacy.bin"), e.Message);

        using var temp = new TempFolder();
        string path = temp.File("pytorch_model.bin");
        File.WriteAllText(path, "hello, not a checkpoint");
        e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(temp.Path));
        Assert.Contains(path, e.Message);
    }
}
