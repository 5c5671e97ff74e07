namespace DebertaSharp.Tests.Tokenization;

/// <summary>A throw-away copy of a fixture folder that a test may break.</summary>
internal sealed class TempFolder : IDisposable
{
    private TempFolder(string path) => Path = path;

    public string Path { get; }

    public static TempFolder CopyOf(string fixture)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "debertasharp-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        foreach (string file in Directory.GetFiles(GoldenData.Folder(fixture)))
        {
            string name = System.IO.Path.GetFileName(file);
            if (name is not ("expected.json" or "README.txt"))
            {
                System.IO.File.Copy(file, System.IO.Path.Combine(path, name));
            }
        }

        return new TempFolder(path);
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
