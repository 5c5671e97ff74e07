using System.CommandLine;

var root = new RootCommand("deberta: run, inspect and check DeBERTa checkpoints (DebertaSharp).");
// Commands register here, one line each: root.Subcommands.Add(XCommand.Create());
return root.Parse(args).Invoke();
