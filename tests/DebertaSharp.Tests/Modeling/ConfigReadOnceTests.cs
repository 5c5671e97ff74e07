using DebertaSharp.Configuration;
using DebertaSharp.Modeling;
using DebertaSharp.Tests.Training;
using Xunit;

namespace DebertaSharp.Tests.Modeling;

/// <summary>A load reads and parses <c>config.json</c> once: the config read to choose the head is the one the model is built from.</summary>
public class ConfigReadOnceTests
{
    [Fact]
    public void AutoModelBuildsFromTheConfigItReadAndDoesNotReadConfigJsonAgain()
    {
        using var dir = new TempDir();
        using (var saved = new DebertaForSequenceClassification(TinyModels.V3(numLabels: 3)))
            saved.SavePretrained(dir.Path);
        var config = DebertaConfig.FromPretrained(dir.Path);
        // A second read of config.json would now fail: only the parsed config can build the model.
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), "not json");

        using var model = AutoModel.FromPretrained(dir.Path, config, head: null, device: null, dtype: null);

        Assert.IsType<DebertaForSequenceClassification>(model);
        Assert.Same(config, model.Config);
        Assert.Empty(model.LoadReport!.Missing);
        Assert.Throws<DebertaConfigurationException>(() => AutoModel.FromPretrained(dir.Path));   // the public path reads it, once
    }
}
