using System.CommandLine;
using DebertaSharp.Cli.Commands;

var root = new RootCommand("deberta: run, inspect and check DeBERTa checkpoints and tokenizers (DebertaSharp).");
root.Subcommands.Add(ForwardCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(FinetuneCommand.Create());
root.Subcommands.Add(ClassifyCommand.Create());
root.Subcommands.Add(ZeroShotCommand.Create());
root.Subcommands.Add(NerCommand.Create());
root.Subcommands.Add(QaCommand.Create());
root.Subcommands.Add(FillMaskCommand.Create());
root.Subcommands.Add(EmbedCommand.Create());
root.Subcommands.Add(RerankCommand.Create());
root.Subcommands.Add(PretrainCommand.Create());
return root.Parse(args).Invoke();
