// The task samples: dotnet run --project samples/TaskSamples -- <task> [--model DIR]
// Each task is one short file (FillMask.cs, Classify.cs, ZeroShot.cs, Ner.cs, QuestionAnswering.cs) that uses
// only DebertaSharp's public API. Without --model they run on the tiny random-weight checkpoints in samples/models,
// so the answers show the API, not a trained model's knowledge.

string task = args.Length > 0 ? args[0] : "";
int at = Array.IndexOf(args, "--model");
string? model = at >= 0 && at + 1 < args.Length ? args[at + 1] : null;

switch (task)
{
    case "fill-mask": FillMask.Run(Folder("tiny-fill-mask")); break;
    case "classify": Classify.Run(Folder("tiny-sentiment")); break;
    case "zero-shot": ZeroShot.Run(Folder("tiny-nli")); break;
    case "ner": Ner.Run(Folder("tiny-ner")); break;
    case "qa": QuestionAnswering.Run(Folder("tiny-qa")); break;
    default:
        Console.Error.WriteLine("usage: TaskSamples fill-mask|classify|zero-shot|ner|qa [--model DIR]");
        return 2;
}

return 0;

// The checkpoint folder of a task, with torch's thread count set for its size (one thread for the tiny samples).
string Folder(string sample)
{
    string folder = model ?? SampleModel(sample);
    DebertaSharp.Modeling.TorchThreads.Apply(DebertaSharp.Configuration.DebertaConfig.FromPretrained(folder));
    return folder;
}

// samples/models/<name>, found from the build output folder upwards.
static string SampleModel(string name)
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "samples", "models", name);
        if (Directory.Exists(candidate)) return candidate;
    }

    throw new DirectoryNotFoundException($"samples/models/{name} not found; pass --model DIR.");
}
