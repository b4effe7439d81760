using System.Runtime.InteropServices;

namespace DiffTransformer.Cli.Common;

/// <summary>
/// Turns the first Ctrl-C or SIGTERM into a cancellation request; a second Ctrl-C terminates as usual. Every verb that
/// can stop cleanly uses one.
/// </summary>
public sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource cts = new();
    private readonly PosixSignalRegistration? term;
    private readonly Action<string>? notify;
    private readonly string? meaning;

    /// <param name="notify">Where to say that the request was received; null: silently.</param>
    /// <param name="meaning">What the verb does about it, e.g. "finishing the current step and saving a checkpoint".</param>
    public Interrupt(Action<string>? notify = null, string? meaning = null)
    {
        this.notify = notify;
        this.meaning = meaning;
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows()) term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSigterm);
    }

    public CancellationToken Token => cts.Token;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (cts.IsCancellationRequested) return; // second Ctrl-C: let it terminate
        e.Cancel = true;
        Notify("interrupt received", " (Ctrl-C again to abort)");
        cts.Cancel();
    }

    private void OnSigterm(PosixSignalContext ctx)
    {
        ctx.Cancel = true;
        if (cts.IsCancellationRequested) return;
        Notify("SIGTERM received", "");
        cts.Cancel();
    }

    private void Notify(string what, string hint)
    {
        if (notify is null) return;
        notify(meaning is null ? what + hint : $"{what}: {meaning}{hint}");
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        term?.Dispose();
        cts.Dispose();
    }
}
