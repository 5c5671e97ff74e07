using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace DebertaSharp.Tests.Packaging;

/// <summary>
/// What the NuGet packages promise, checked on the repository's own build files: the buildTransitive warning for an
/// executable without a libtorch backend (run by MSBuild on throw-away projects), the package and tool metadata
/// (evaluated by MSBuild), and the package readmes. The end-to-end run (pack, new console app, fresh NuGet cache)
/// is <c>build/check-package.sh</c>.
/// </summary>
public class PackagingTests
{
    private static readonly string Repo = FindRepo();

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DebertaSharp.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("No DebertaSharp.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs the .NET SDK with a clean MSBuild environment (the test host's MSBuild variables would leak in).</summary>
    private static (int Code, string Output) Dotnet(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    /// <summary>A project in a folder of its own that imports the package's buildTransitive targets, as a consumer does.</summary>
    private static string Consumer(string root, string name, string outputType, string packageReference)
    {
        string folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>{outputType}</OutputType>
                <TargetFramework>net10.0</TargetFramework>
              </PropertyGroup>
              <ItemGroup>{packageReference}</ItemGroup>
              <Import Project="{Path.Combine(Repo, "build", "DebertaSharp.targets")}" />
            </Project>
            """);
        return folder;
    }

    [Fact]
    public void AnExecutableWithoutALibTorchBackendGetsABuildWarningNamingThePackage()
    {
        string root = Path.Combine(Path.GetTempPath(), "debertasharp-backend-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            // Stop MSBuild and NuGet from reading anything above this folder; restore only from the local cache.
            foreach (string file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            {
                File.WriteAllText(Path.Combine(root, file), "<Project />");
            }

            File.WriteAllText(Path.Combine(root, "NuGet.config"), "<configuration><packageSources><clear /></packageSources></configuration>");
            string version = CentralVersion("libtorch-cpu-linux-x64");
            var runs = new (string Folder, string[] Extra, bool Warns)[]
            {
                (Consumer(root, "NoBackend", "Exe", ""), [], true),
                (Consumer(root, "Silenced", "Exe", ""), ["-p:DebertaSharpSuppressBackendWarning=true"], false),
                (Consumer(root, "WithBackend", "Exe", $"""<PackageReference Include="libtorch-cpu-linux-x64" Version="{version}" />"""), [], false),
                (Consumer(root, "Library", "Library", ""), [], false),
            };
            var results = runs.AsParallel().WithDegreeOfParallelism(2).Select(run =>
                Dotnet(run.Folder, ["msbuild", "-restore", "-t:ResolvePackageAssets", "-nologo", "-v:m", .. run.Extra])).ToArray();
            for (int i = 0; i < runs.Length; i++)
            {
                var (code, output) = results[i];
                Assert.True(code == 0, output);
                if (runs[i].Warns)
                {
                    Assert.Contains("warning DEBERTASHARP001", output);
                    Assert.Contains($"dotnet add package libtorch-cpu-linux-x64 --version {version}", output);
                    Assert.Contains("DebertaSharpSuppressBackendWarning", output);
                }
                else
                {
                    Assert.False(output.Contains("DEBERTASHARP001", StringComparison.Ordinal), Path.GetFileName(runs[i].Folder) + ": " + output);
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string CentralVersion(string package)
    {
        string props = File.ReadAllText(Path.Combine(Repo, "Directory.Packages.props"));
        return Regex.Match(props, $"""Include="{Regex.Escape(package)}" Version="([^"]+)" """.TrimEnd()).Groups[1].Value;
    }

    [Fact]
    public void TheWarningNamesTheVersionsThisRepositoryBuildsWith()
    {
        string targets = File.ReadAllText(Path.Combine(Repo, "build", "DebertaSharp.targets"));
        Assert.Contains($"<_DebertaSharpLibTorchVersion>{CentralVersion("libtorch-cpu-linux-x64")}</_DebertaSharpLibTorchVersion>", targets);
        Assert.Contains($"<_DebertaSharpTorchSharpVersion>{CentralVersion("TorchSharp")}</_DebertaSharpTorchSharpVersion>", targets);
    }

    private static Dictionary<string, string> Properties(string project, params string[] names)
    {
        var (code, output) = Dotnet(Repo, ["msbuild", project, "-nologo", "-p:Configuration=Release", .. names.Select(n => "-getProperty:" + n)]);
        Assert.True(code == 0, output);
        using var doc = JsonDocument.Parse(output);
        return doc.RootElement.GetProperty("Properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
    }

    [Fact]
    public void TheLibraryPackageHasRepositorySymbolsIconReadmeAndMappedSourcePaths()
    {
        var p = Properties("src/DebertaSharp/DebertaSharp.csproj",
            "RepositoryUrl", "PackageProjectUrl", "PublishRepositoryUrl", "IncludeSymbols", "SymbolPackageFormat", "PackageIcon",
            "PackageReadmeFile", "PackageReleaseNotes", "DeterministicSourcePaths", "ManagePackageVersionsCentrally");
        Assert.StartsWith("https://", p["RepositoryUrl"]);
        Assert.Equal(p["RepositoryUrl"], p["PackageProjectUrl"]);
        Assert.Equal("true", p["PublishRepositoryUrl"]);
        Assert.Equal("true", p["IncludeSymbols"]);
        Assert.Equal("snupkg", p["SymbolPackageFormat"]);
        Assert.Equal("icon.png", p["PackageIcon"]);
        Assert.Equal("README.md", p["PackageReadmeFile"]);
        Assert.NotEqual("", p["PackageReleaseNotes"]);
        Assert.Equal("true", p["DeterministicSourcePaths"]);
        Assert.Equal("true", p["ManagePackageVersionsCentrally"]);
        Assert.True(File.Exists(Path.Combine(Repo, "build", "icon.png")));
    }

    [Fact]
    public void TheToolIsPackedForLinuxX64WithItsOwnReadme()
    {
        var p = Properties("src/DebertaSharp.Cli/DebertaSharp.Cli.csproj", "PackAsTool", "ToolPackageRuntimeIdentifiers", "PackageReadmeFile", "ToolCommandName");
        Assert.Equal("true", p["PackAsTool"]);
        Assert.Equal("linux-x64", p["ToolPackageRuntimeIdentifiers"]);
        Assert.Equal("README.md", p["PackageReadmeFile"]);
        Assert.Equal("deberta", p["ToolCommandName"]);
        string readme = File.ReadAllText(Path.Combine(Repo, "src", "DebertaSharp.Cli", "PACKAGE.md"));
        Assert.Contains("dotnet tool install --global DebertaSharp.Cli", readme);
        Assert.Contains("linux-x64", readme);
    }

    [Fact]
    public void PackageReadmesTalkAboutPackagesNotTheClone()
    {
        foreach (string readme in new[] { "src/DebertaSharp/PACKAGE.md", "src/DebertaSharp.Cli/PACKAGE.md" })
        {
            string text = File.ReadAllText(Path.Combine(Repo, readme));
            Assert.DoesNotContain("samples/", text);
            Assert.DoesNotContain("dotnet run --project", text);
        }

        string package = File.ReadAllText(Path.Combine(Repo, "src", "DebertaSharp", "PACKAGE.md"));
        Assert.Contains("dotnet add package DebertaSharp", package);
        Assert.Contains($"dotnet add package libtorch-cpu-linux-x64 --version {CentralVersion("libtorch-cpu-linux-x64")}", package);
    }

    [Fact]
    public void TheReadmeSaysHowToUseThePackageAndTheTool()
    {
        string readme = File.ReadAllText(Path.Combine(Repo, "README.md"));
        Assert.Contains("## Use it in your app", readme);
        Assert.Contains("dotnet add package DebertaSharp", readme);
        Assert.Contains($"dotnet add package libtorch-cpu-linux-x64 --version {CentralVersion("libtorch-cpu-linux-x64")}", readme);
        Assert.Contains("dotnet tool install", readme);
        Assert.Contains("DebertaSharpSuppressBackendWarning", readme);
    }
}

/// <summary>The Program.cs of README's "Use it in your app", checked to be the code run here on a sample checkpoint.</summary>
public class ReadmePackageExampleTests
{
    private const string Snippet = """
        using DebertaSharp.Pipelines;

        using var classifier = TextClassificationPipeline.FromPretrained(args[0]);
        foreach (var score in classifier.Classify("A wonderful little library.", new TextClassificationOptions { TopK = null }))
            Console.WriteLine($"{score.Label}: {score.Score:F3}");
        """;

    [Fact]
    public void TheReadmeProgramIsThisOneAndRuns()
    {
        string repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repo, "DebertaSharp.sln")))
        {
            repo = Path.GetDirectoryName(repo.TrimEnd('/'))!;
        }

        string readme = File.ReadAllText(Path.Combine(repo, "README.md"));
        string section = readme[readme.IndexOf("## Use it in your app", StringComparison.Ordinal)..];
        int start = section.IndexOf("```csharp\n", StringComparison.Ordinal) + "```csharp\n".Length;
        Assert.Equal(Snippet.Trim(), section[start..section.IndexOf("```", start, StringComparison.Ordinal)].Trim());

        string[] args = [Path.Combine(repo, "samples", "models", "tiny-sentiment")];
        var lines = new List<string>();
        using var classifier = DebertaSharp.Pipelines.TextClassificationPipeline.FromPretrained(args[0]);
        foreach (var score in classifier.Classify("A wonderful little library.", new DebertaSharp.Pipelines.TextClassificationOptions { TopK = null }))
            lines.Add($"{score.Label}: {score.Score:F3}");
        Assert.Equal(classifier.Model.Config.NumLabels, lines.Count);
    }
}

/// <summary>The one test command builds the whole solution: every project of the .sln is this test project or built before it.</summary>
public class SolutionBuildTests
{
    [Fact]
    public void EveryProjectOfTheSolutionIsBuiltByTheTestCommand()
    {
        string repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repo, "DebertaSharp.sln")))
        {
            repo = Path.GetDirectoryName(repo.TrimEnd('/'))!;
        }

        var inSolution = Regex.Matches(File.ReadAllText(Path.Combine(repo, "DebertaSharp.sln")), @"""([^""]+\.csproj)""")
            .Select(m => Path.GetFullPath(Path.Combine(repo, m.Groups[1].Value.Replace('\\', '/'))))
            .ToHashSet();
        string tests = Path.Combine(repo, "tests", "DebertaSharp.Tests");
        var built = Regex.Matches(File.ReadAllText(Path.Combine(tests, "DebertaSharp.Tests.csproj")), @"<ProjectReference Include=""([^""]+)""")
            .Select(m => Path.GetFullPath(Path.Combine(tests, m.Groups[1].Value)))
            .Append(Path.Combine(tests, "DebertaSharp.Tests.csproj"))
            .ToHashSet();
        Assert.Empty(inSolution.Except(built));
        Assert.Equal("dotnet test DebertaSharp.sln -c Release", File.ReadAllLines(Path.Combine(repo, ".ci", "run")).Last(l => l.Length > 0));
    }
}
