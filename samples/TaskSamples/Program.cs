// The task samples: dotnet run --project samples/TaskSamples -- <task> [--model DIR]
// Each task is one short file (FillMask.cs, Classify.cs, ZeroShot.cs, Ner.cs, QuestionAnswering.cs) that uses
// only DebertaSharp's public API. Without --model they run on the tiny random-weight checkpoints in samples/models,
// so the answers show the API, not a trained model's knowledge.

string task = args.Length > 0 ? args[0] : "";
int at = Array.IndexOf(args, "--model");
string? model = at >= 0 && at + 1 < args.Length ? args[at + 1] : null;

switch (task)
{
    case "fill-mask": FillMask.Run(model ?? SampleModel("tiny-fill-mask")); break;
    case "classify": Classify.Run(model ?? SampleModel("tiny-sentiment")); break;
    case "zero-shot": ZeroShot.Run(model ?? SampleModel("tiny-nli")); break;
    case "ner": Ner.Run(model ?? SampleModel("tiny-ner")); break;
    case "qa": QuestionAnswering.Run(model ?? SampleModel("tiny-qa")); break;
    default:
        Console.Error.WriteLine("usage: TaskSamples fill-mask|classify|zero-shot|ner|qa [--model DIR]");
        return 2;
}

return 0;

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
