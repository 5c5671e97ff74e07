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

    /// <summary>
    /// The required <c>--model DIR</c> option. Parsing checks the path and says what is wrong with it (does not
    /// exist, is a file, lacks <c>config.json</c>, lacks tokenizer files), as a usage error (exit code 2).
    /// </summary>
    public static Option<DirectoryInfo> ModelOption(ModelFolderNeeds needs = ModelFolderNeeds.Config) =>
        FolderOption("--model", "Checkpoint folder (config.json + model.safetensors or pytorch_model.bin), or a Hugging Face Hub repo id.", needs, required: true);

    /// <summary>A folder option whose value is checked as <see cref="ModelOption"/> describes.</summary>
    public static Option<DirectoryInfo> FolderOption(string name, string description, ModelFolderNeeds needs, bool required)
    {
        var option = new Option<DirectoryInfo>(name) { Description = description, Required = required };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && FolderProblem(result.Tokens[0].Value, needs) is { } problem)
            {
                result.AddError($"{name} {problem}");
            }
        });
        return option;
    }

    /// <summary>What is wrong with <paramref name="path"/> as a checkpoint folder, or <c>null</c>.</summary>
    public static string? FolderProblem(string path, ModelFolderNeeds needs)
    {
        if (File.Exists(path))
        {
            return $"'{path}' is a file, not a checkpoint folder.";
        }

        if (!Directory.Exists(path))
        {
            // A name shaped like org/name is a hub repo id, resolved (and its errors named) when the command runs.
            return Hub.PretrainedSource.IsRepoId(path) ? null : $"'{path}': no such folder, and not a Hugging Face Hub repo id.";
        }

        if (needs.HasFlag(ModelFolderNeeds.Config) && !File.Exists(Path.Combine(path, "config.json")))
        {
            return $"'{path}' has no config.json: not a checkpoint folder.";
        }

        if (needs.HasFlag(ModelFolderNeeds.Tokenizer) && !DebertaSharp.Tokenization.AutoTokenizer.HasTokenizer(path))
        {
            return $"'{path}' has no tokenizer files ({string.Join(", ", DebertaSharp.Tokenization.AutoTokenizer.VocabularyFiles)}).";
        }

        return null;
    }

    /// <summary>
    /// Sets torch's intra-op thread count: <paramref name="requested"/> (<c>--threads</c>) when given, else the
    /// default for the model (<see cref="DebertaSharp.Modeling.TorchThreads.For"/>), else one per core.
    /// </summary>
    public static void SetThreads(int? requested, DebertaSharp.Configuration.DebertaConfig? config)
    {
        if (requested is < 1)
        {
            throw new DebertaSharpException($"--threads must be at least 1, got {requested}.");
        }

        int threads = requested ?? (config is null ? Environment.ProcessorCount : DebertaSharp.Modeling.TorchThreads.For(config));
        // Only a change is applied: resizing torch's thread pool while other threads of the process run operations is a
        // needless risk (in-process callers such as the tests run commands side by side).
        if (TorchSharp.torch.get_num_threads() != threads)
        {
            TorchSharp.torch.set_num_threads(threads);
        }
    }

    /// <summary>The <c>--threads N</c> option of every command that runs a model.</summary>
    public static Option<int?> ThreadsOption() => new("--threads")
    {
        Description = "Torch intra-op threads (default: 1 for small models, where OpenMP overhead dominates; else one per core).",
    };

    /// <summary>
    /// The folder a <c>--model</c> names: an existing folder, else the cached snapshot of a hub repo id (fetched when
    /// needed, with its tokenizer files).
    /// </summary>
    public static string ModelPath(DirectoryInfo model) =>
        model.Exists ? model.FullName : Hub.PretrainedSource.Resolve(model.ToString(), Hub.PretrainedFiles.All);
}

/// <summary>What a folder given on the command line must hold.</summary>
[Flags]
internal enum ModelFolderNeeds
{
    /// <summary>Only that the folder exists.</summary>
    Folder = 0,

    /// <summary><c>config.json</c>.</summary>
    Config = 1,

    /// <summary>Tokenizer files.</summary>
    Tokenizer = 2,

    /// <summary>Both.</summary>
    ConfigAndTokenizer = Config | Tokenizer,
}
