using System.CommandLine;

namespace DebertaSharp.Cli.Commands;

/// <summary>Runs a command body and turns user errors into a one-line message and exit code 2.</summary>
internal static class CliErrors
{
    public const int UserError = 2;

    public static int Run(Func<int> body) => Run(body, Console.Error);

    /// <summary>As <see cref="Run(Func{int})"/>, writing the message to <paramref name="error"/>.</summary>
    public static int Run(Func<int> body, TextWriter error)
    {
        try
        {
            return body();
        }
        catch (DebertaSharpException ex)
        {
            error.WriteLine($"error: {ex.Message}");
            return UserError;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            error.WriteLine($"error: {ex.Message}");
            return UserError;
        }
    }

    /// <summary>A required folder option that must exist.</summary>
    public static Option<DirectoryInfo> ModelOption() => new("--model")
    {
        Description = "Checkpoint folder (config.json + model.safetensors or pytorch_model.bin), or a Hugging Face Hub repo id.",
        Required = true,
    };

    /// <summary>
    /// The folder a <c>--model</c> names: an existing folder, else the cached snapshot of a hub repo id (fetched when
    /// needed, with its tokenizer files).
    /// </summary>
    public static string ModelPath(DirectoryInfo model) =>
        model.Exists ? model.FullName : Hub.PretrainedSource.Resolve(model.ToString(), Hub.PretrainedFiles.All);
}
