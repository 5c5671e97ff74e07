using DebertaSharp.Cli;

return DebertaCli.Invoke(args);
