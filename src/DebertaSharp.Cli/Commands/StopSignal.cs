using System.Runtime.InteropServices;
using DebertaSharp.Training;

namespace DebertaSharp.Cli.Commands;

/// <summary>
/// Graceful stop for long-running commands (finetune, pretrain): the first Ctrl+C or SIGTERM asks the run to stop at
/// the next step boundary (it writes a checkpoint first); a second Ctrl+C ends the process at once.
/// </summary>
internal sealed class StopSignal : IDisposable
{
    /// <summary>Exit code of a run stopped by a signal, after its checkpoint (128 + SIGINT, as shells report it).</summary>
    public const int ExitCode = 130;

    private readonly string _command;
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration? _term;

    /// <summary>Starts listening; <paramref name="command"/> names the command in the message printed on a stop request.</summary>
    public StopSignal(string command)
    {
        _command = command;
        Console.CancelKeyPress += OnCancel;
        if (!OperatingSystem.IsWindows())
            _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; Request(); });
    }

    /// <summary>
    /// Runs a training command's body; a run stopped through its token (<see cref="TrainingCanceledException"/>, thrown by
    /// <see cref="Trainer.Train"/> and <see cref="Pretraining.Pretrainer.Train"/>) becomes a one-line note of the step and
    /// checkpoint on <paramref name="stderr"/> and <see cref="ExitCode"/>.
    /// </summary>
    public static int ExitOnCancel(string command, TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (TrainingCanceledException e)
        {
            stderr.WriteLine($"deberta {command}: stopped after step {e.GlobalStep}; checkpoint {e.Checkpoint}. Run the same command with --resume to continue.");
            return ExitCode;
        }
    }

    /// <summary>Cancelled when a stop was requested.</summary>
    public CancellationToken Token => _source.Token;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (_source.IsCancellationRequested) return;   // second Ctrl+C: let the process end
        e.Cancel = true;
        Request();
    }

    private void Request()
    {
        Console.Error.WriteLine($"deberta {_command}: stopping after the current step (writing a checkpoint); press Ctrl+C again to abort.");
        _source.Cancel();
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _term?.Dispose();
        _source.Dispose();
    }
}
