using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using DebertaSharp.Cli.Commands;

namespace DebertaSharp.Cli;

/// <summary>
/// The <c>deberta</c> command tree and the one rule every command follows: a usage error (unknown option, missing or
/// bad option value, a text starting with <c>-</c> before <c>--</c>) prints one short line naming it on stderr and exits
/// with <see cref="CliErrors.UserError"/> (2); help is printed only for <c>--help</c>. Commands added to
/// <see cref="CreateRoot"/> get this without doing anything.
/// </summary>
internal static class DebertaCli
{
    /// <summary>The root command with every subcommand.</summary>
    public static RootCommand CreateRoot()
    {
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
        root.Subcommands.Add(DownloadCommand.Create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/> on the process's console.</summary>
    public static int Invoke(string[] args) => Invoke(CreateRoot(), args, new InvocationConfiguration());

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/>; usage errors exit with 2, else the command runs.</summary>
    public static int Invoke(Command root, string[] args, InvocationConfiguration configuration)
    {
        ParseResult parse = root.Parse(args);
        if (parse.Action is not HelpAction && UsageError(parse) is { } message)
        {
            string path = CommandPath(parse.CommandResult);
            configuration.Error.WriteLine($"{path}: {message}");
            configuration.Error.WriteLine($"Run '{path} --help' for usage.");
            return CliErrors.UserError;
        }

        return parse.Invoke(configuration);
    }

    /// <summary>
    /// The first usage error of a parse, unknown options first: System.CommandLine takes an unknown <c>--flag</c> on
    /// a command with text arguments for a text, so a text argument that looks like an option and comes before
    /// <c>--</c> is an error here.
    /// </summary>
    internal static string? UsageError(ParseResult parse)
    {
        int doubleDash = IndexOfDoubleDash(parse.Tokens);
        for (SymbolResult? result = parse.CommandResult; result is not null; result = result.Parent)
        {
            if (result is not CommandResult command)
            {
                continue;
            }

            foreach (ArgumentResult argument in command.Children.OfType<ArgumentResult>())
            {
                foreach (Token token in argument.Tokens)
                {
                    if (LooksLikeOption(token.Value) && (doubleDash < 0 || PositionOf(parse.Tokens, token) < doubleDash))
                    {
                        return $"unknown option '{token.Value}' (a text that starts with '-' goes after '--').";
                    }
                }
            }
        }

        if (parse.UnmatchedTokens.FirstOrDefault() is { } unknown)
        {
            return LooksLikeOption(unknown) ? $"unknown option '{unknown}'." : $"unknown command or argument '{unknown}'.";
        }

        return parse.Errors.Count > 0 ? parse.Errors[0].Message : null;
    }

    private static bool LooksLikeOption(string value) => value.Length > 1 && value[0] == '-';

    private static int IndexOfDoubleDash(IReadOnlyList<Token> tokens)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i].Type == TokenType.DoubleDash)
            {
                return i;
            }
        }

        return -1;
    }

    // By reference: two equal texts are two tokens.
    private static int PositionOf(IReadOnlyList<Token> tokens, Token token)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            if (ReferenceEquals(tokens[i], token))
            {
                return i;
            }
        }

        return int.MaxValue;
    }

    /// <summary><c>deberta bench model</c> for the command that was parsed.</summary>
    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? result = command; result is not null; result = result.Parent)
        {
            if (result is CommandResult c && c.Parent is not null)
            {
                names.Add(c.Command.Name);
            }
        }

        names.Add("deberta");
        names.Reverse();
        return string.Join(' ', names);
    }
}
