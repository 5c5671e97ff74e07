using System.Buffers.Binary;
using System.Text;
using DebertaSharp.Checkpoints;
using DebertaSharp.Configuration;
using DebertaSharp.Tests.Checkpoints;
using DebertaSharp.Tests.Modeling;
using DebertaSharp.Tokenization;
using DebertaSharp.Training;
using DebertaSharp.Training.Data;
using Xunit;

namespace DebertaSharp.Tests.Robustness;

/// <summary>
/// Every JSON file DebertaSharp reads refuses lone surrogate escapes, bad UTF-8 and duplicate keys with its own
/// DebertaSharpException subclass naming the file (before: InvalidOperationException / ArgumentException naming
/// nothing, or the last duplicate silently won).
/// </summary>
public class StrictJsonTests
{
    [Fact]
    public void ConfigJsonToleratesTrailingCommasButNotComments()
    {
        // As before the strict reader: config.json (like sentence-transformers' module configs) took trailing commas, never comments.
        string json = DebertaSharp.Tests.Training.TinyModels.V3().ToJson().TrimEnd();
        string trailing = json[..json.LastIndexOf('}')].TrimEnd() + ",\n}";
        Assert.Equal(DebertaConfig.Parse(json).HiddenSize, DebertaConfig.Parse(trailing).HiddenSize);
        var e = Assert.Throws<DebertaConfigurationException>(() => DebertaConfig.Parse("// a comment\n" + json));
        Assert.Contains("not valid JSON", e.Message);
    }

    public enum Damage { LoneSurrogate, BadUtf8, DuplicateKey }

    /// <summary>Inserts one bad member right after the first '{' of a JSON text.</summary>
    internal static byte[] Damaged(byte[] json, Damage damage)
    {
        int brace = Array.IndexOf(json, (byte)'{');
        byte[] member = damage switch
        {
            Damage.LoneSurrogate => Encoding.ASCII.GetBytes("\"name\\ud800x\": 0, "),
            Damage.BadUtf8 => [.. "\"name"u8, 0xC3, 0x28, .. "\": 0, "u8],
            _ => Encoding.ASCII.GetBytes("\"twice\": 0, \"twice\": 1, "),
        };
        return [.. json[..(brace + 1)], .. member, .. json[(brace + 1)..]];
    }

    public static TheoryData<string, Damage> Readers()
    {
        var data = new TheoryData<string, Damage>();
        foreach (var reader in new[] { "safetensors", "index", "config", "tokenizer_config", "special_tokens_map", "added_tokens", "vocab", "jsonl", "squad", "trainer_state" })
            foreach (var damage in Enum.GetValues<Damage>())
                data.Add(reader, damage);
        return data;
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void EveryReaderRefusesBadJsonNamingTheFile(string reader, Damage damage)
    {
        using var tmp = new TempDir();
        string v3 = Tokenization.GoldenData.Folder("tokenizer-v3");
        string v1 = Tokenization.GoldenData.Folder("tokenizer-v1");
        string seqcls = CheckpointTestFiles.Golden("deberta-v3-heads", "seqcls");
        string Copy(string folder)
        {
            foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(tmp.Path, Path.GetFileName(f)), true);
            return tmp.Path;
        }
        void Break(string file) => File.WriteAllBytes(Path.Combine(tmp.Path, file), Damaged(File.ReadAllBytes(Path.Combine(tmp.Path, file)), damage));

        (Type expected, string file, Action act) = reader switch
        {
            "safetensors" => (typeof(CheckpointException), "model.safetensors", (Action)(() =>
            {
                Copy(seqcls);
                string path = Path.Combine(tmp.Path, "model.safetensors");
                var bytes = File.ReadAllBytes(path);
                long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
                var header = Damaged(bytes[8..(int)(8 + n)], damage);
                var length = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                File.WriteAllBytes(path, [.. length, .. header, .. bytes[(int)(8 + n)..]]);
                using var r = CheckpointReader.Open(path);
            })),
            "index" => (typeof(CheckpointException), "model.safetensors.index.json", () =>
            {
                Copy(CheckpointTestFiles.Golden("deberta-v3-heads", "seqcls-sharded"));
                Break("model.safetensors.index.json");
                using var r = CheckpointReader.Open(tmp.Path);
            }),
            "config" => (typeof(DebertaConfigurationException), "config.json", () =>
            {
                Copy(seqcls);
                Break("config.json");
                DebertaConfig.FromPretrained(tmp.Path);
            }),
            "tokenizer_config" or "special_tokens_map" or "added_tokens" => (typeof(TokenizerException), reader + ".json", () =>
            {
                Copy(v3);
                Break(reader + ".json");
                AutoTokenizer.FromPretrained(tmp.Path);
            }),
            "vocab" => (typeof(TokenizerException), "vocab.json", () =>
            {
                Copy(v1);
                Break("vocab.json");
                AutoTokenizer.FromPretrained(tmp.Path);
            }),
            "jsonl" => (typeof(DatasetException), "train.jsonl", () =>
            {
                File.WriteAllBytes(Path.Combine(tmp.Path, "train.jsonl"), [.. "{\"text\": \"a\", \"label\": \"x\"}\n"u8, .. Damaged("{\"text\": \"b\", \"label\": \"y\"}\n"u8.ToArray(), damage)]);
                TabularFile.Read(Path.Combine(tmp.Path, "train.jsonl"));
            }),
            "squad" => (typeof(DatasetException), "squad.json", () =>
            {
                File.WriteAllBytes(Path.Combine(tmp.Path, "squad.json"), Damaged(
                    "{\"data\": [{\"paragraphs\": [{\"context\": \"abc\", \"qas\": [{\"id\": \"1\", \"question\": \"q\", \"answers\": [{\"text\": \"b\", \"answer_start\": 1}]}]}]}]}"u8.ToArray(), damage));
                SquadFile.Read(Path.Combine(tmp.Path, "squad.json"));
            }),
            _ => (typeof(CheckpointException), "trainer_state.json", () =>
            {
                // A string holds the JSON text here, so bad UTF-8 cannot occur; an unpaired surrogate char can.
                string text = damage == Damage.BadUtf8 ? "{\"x\ud800\": 1}" : Encoding.UTF8.GetString(Damaged("{\"global_step\": 1}"u8.ToArray(), damage));
                TrainingState.Parse(text, Path.Combine(tmp.Path, "trainer_state.json"));
            }),
        };
        var ex = Assert.ThrowsAny<DebertaSharpException>(act);
        Assert.IsType(expected, ex);
        Assert.Contains(file, ex.Message);
        if (damage == Damage.DuplicateKey) Assert.Contains("'twice' appears twice", ex.Message);
    }

    [Fact]
    public void LineNumbersPointAtTheBadRecord()
    {
        var ex = Assert.Throws<DatasetException>(() => StrictJson.Parse("{\n\"a\": 1,\n\"a\": 2}"u8.ToArray(), "f.json", (m, i) => new DatasetException(m, i)));
        Assert.StartsWith("f.json:3: not valid JSON", ex.Message);
    }

    [Fact]
    public void DeepNestingIsRefused()
    {
        var deep = Encoding.ASCII.GetBytes(new string('[', 100) + new string(']', 100));
        Assert.Throws<DatasetException>(() => StrictJson.Parse(deep, "deep.json", (m, i) => new DatasetException(m, i)));
    }

    [Fact]
    public void ValidFilesWithBomAndUnicodeStillLoad()
    {
        using var doc = StrictJson.Parse(new byte[] { 0xEF, 0xBB, 0xBF }.Concat("{\"é\": \"\\ud83d\\ude00\"}"u8.ToArray()).ToArray(), "ok.json", (m, i) => new DatasetException(m, i));
        Assert.Equal("\U0001F600", doc.RootElement.GetProperty("é").GetString());
    }
}
