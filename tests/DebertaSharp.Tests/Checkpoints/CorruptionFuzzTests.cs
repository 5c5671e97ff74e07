using DebertaSharp.Checkpoints;
using Xunit;
using static DebertaSharp.Tests.Checkpoints.CheckpointTestFiles;

namespace DebertaSharp.Tests.Checkpoints;

public class CorruptionFuzzTests
{
    [Theory]
    [InlineData("views.bin", "pytorch_model.bin")]
    [InlineData("golden-tokcls-bin", "pytorch_model.bin")]
    [InlineData("golden-tokcls", "model.safetensors")]
    public void DamagedFilesFailOnlyWithCheckpointException(string fixture, string fileName)
    {
        string source = fixture switch
        {
            "golden-tokcls-bin" => Golden("deberta-v3-heads", "tokcls-bin", "pytorch_model.bin"),
            "golden-tokcls" => Golden("deberta-v3-heads", "tokcls", "model.safetensors"),
            _ => CheckpointFixture(fixture),
        };
        var original = File.ReadAllBytes(source);
        var random = new Random(1234);
        using var temp = new TempFolder();
        string path = temp.File(fileName);
        for (int round = 0; round < 150; round++)
        {
            var damaged = (byte[])original.Clone();
            int region = Math.Min(damaged.Length, round % 2 == 0 ? 4096 : damaged.Length); // headers and pickles live early or at the end
            for (int flips = 1 + random.Next(4); flips > 0; flips--)
            {
                int at = round % 3 == 0 ? damaged.Length - 1 - random.Next(region) : random.Next(region);
                damaged[at] = (byte)random.Next(256);
            }
            if (round % 10 == 9)
            {
                damaged = damaged[..random.Next(damaged.Length)];
            }
            File.WriteAllBytes(path, damaged);
            try
            {
                using var reader = CheckpointReader.Open(path);
                foreach (var key in reader.Keys)
                {
                    using var t = reader.Read(key);
                }
            }
            catch (CheckpointException)
            {
            }
        }
    }
}
