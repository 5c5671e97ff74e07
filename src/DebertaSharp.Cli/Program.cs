using System.CommandLine;
using DebertaSharp.Cli.Commands;

var root = new RootCommand("deberta: run, inspect and check DeBERTa checkpoints (DebertaSharp).");
root.Subcommands.Add(ForwardCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
return root.Parse(args).Invoke();
