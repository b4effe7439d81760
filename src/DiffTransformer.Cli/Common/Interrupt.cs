using System.Runtime.InteropServices;

namespace DiffTransformer.Cli.Common;

/// <summary>Turns Ctrl-C and SIGTERM into a cancellation request (the first one); a second Ctrl-C kills as usual.</summary>
public sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource cts = new();
    private readonly PosixSignalRegistration? term;
    private readonly Action<string> notify;

    public Interrupt(Action<string> notify)
    {
        this.notify = notify;
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows()) term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSigterm);
    }

    public CancellationToken Token => cts.Token;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (cts.IsCancellationRequested) return; // second Ctrl-C: let it terminate
        e.Cancel = true;
        notify("interrupt received: finishing the current step and saving a checkpoint (Ctrl-C again to abort)");
        cts.Cancel();
    }

    private void OnSigterm(PosixSignalContext ctx)
    {
        ctx.Cancel = true;
        if (cts.IsCancellationRequested) return;
        notify("SIGTERM received: finishing the current step and saving a checkpoint");
        cts.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        term?.Dispose();
        cts.Dispose();
    }
}
