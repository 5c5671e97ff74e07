using System.CommandLine;
using DebertaSharp.Cli.Commands;

var root = new RootCommand("deberta: run, inspect and check DeBERTa checkpoints (DebertaSharp).");
// Commands register here, one line each: root.Subcommands.Add(XCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
return root.Parse(args).Invoke();
