using System.CommandLine;
using System.Text.RegularExpressions;
using DebertaSharp.Cli.Commands;
using DebertaSharp.Hub;
using DebertaSharp.Modeling;
using DebertaSharp.Pipelines;
using Xunit;
using static TorchSharp.torch;

namespace DebertaSharp.Tests.Hub;

/// <summary>
/// The "Loading from the Hugging Face Hub" section of README.md: its C# example and every command of its bash block
/// (read from the README), run against <see cref="FakeHub"/> with the README's repo id served as the tiny NLI sample.
/// </summary>
public class ReadmeHubExampleTests
{
    private const string ReadmeRepo = "cross-encoder/nli-deberta-v3-base";

    private static string Section()
    {
        string readme = File.ReadAllText(Path.Combine(HubTestBed.SampleFolder, "..", "..", "..", "README.md"));
        int start = readme.IndexOf("## Loading from the Hugging Face Hub", StringComparison.Ordinal);
        Assert.True(start >= 0, "README section missing");
        int end = readme.IndexOf("\n## ", start + 10, StringComparison.Ordinal);
        return readme[start..end];
    }

    [Fact]
    public void CSharpExampleRuns()
    {
        using var bed = new HubTestBed();
        bed.Hub.Add(ReadmeRepo, bed.Files);
        Assert.Contains($"DebertaForSequenceClassification.FromPretrained(\"{ReadmeRepo}\")", Section());
        using (HubOptions.Use(bed.Options()))                                // the environment: this hub and cache
        {
            using var model = DebertaForSequenceClassification.FromPretrained(ReadmeRepo);
            using (HubOptions.Use(new HubOptions { Revision = "main", Environment = bed.Environment }))
            {
                using var zeroShot = ZeroShotClassificationPipeline.FromPretrained(ReadmeRepo);
                Assert.Equal(2, zeroShot.Classify("The game ended 2-1.", ["sports", "law"]).Labels.Count);
            }
            HubSnapshot snapshot = PretrainedSource.Download(ReadmeRepo, PretrainedFiles.All);
            using var auto = AutoModel.FromPretrained(snapshot.Folder, dtype: TorchDtype.Auto);
            Assert.Equal(ScalarType.Float32, auto.DType);                     // the sample's torch_dtype
            Assert.IsType<DebertaForSequenceClassification>(auto);
        }
    }

    /// <summary>Splits a shell line into words: double quotes group, <c>#</c> outside quotes starts a comment.</summary>
    private static List<string> Words(string line)
    {
        var words = new List<string>();
        foreach (Match m in Regex.Matches(line, "\"([^\"]*)\"|(#.*$)|(\\S+)"))
        {
            if (m.Groups[2].Success) break;
            words.Add(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[3].Value);
        }
        return words;
    }

    [Fact]
    public void CommandsRun()
    {
        string section = Section();
        int block = section.IndexOf("```bash", StringComparison.Ordinal);
        string[] lines = section[(block + 7)..section.IndexOf("```", block + 7, StringComparison.Ordinal)]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(4, lines.Length);

        using var bed = new HubTestBed();
        bed.Hub.Add(ReadmeRepo, bed.Files);
        foreach (string line in lines)
        {
            var words = Words(line);
            bool offline = words[0] == "HF_HUB_OFFLINE=1";
            if (offline) words.RemoveAt(0);
            Assert.Equal("deberta", words[0]);
            var root = new RootCommand("test") { DownloadCommand.Create(), InfoCommand.Create(), ZeroShotCommand.Create() };
            var output = new StringWriter();
            var error = new StringWriter();
            int requests = bed.Hub.Requests.Count;
            using (HubOptions.Use(bed.Options(offline: offline)))
            {
                int code = root.Parse(words.Skip(1).ToArray()).Invoke(new InvocationConfiguration { Output = output, Error = error });
                Assert.True(code == 0, line + "\n" + error);
            }
            Assert.Contains(words[1] == "zero-shot" ? "sports" : ReadmeRepo, output.ToString());
            if (offline || words[1] == "info") Assert.Equal(requests, bed.Hub.Requests.Count);
        }
        Assert.True(File.Exists(Path.Combine(bed.Cache, "models--cross-encoder--nli-deberta-v3-base", "refs", "main")));
    }
}
