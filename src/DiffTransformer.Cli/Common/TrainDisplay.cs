using System.Diagnostics;
using DiffTransformer.Training;

namespace DiffTransformer.Cli.Common;

/// <summary>
/// Live training progress on stderr: one line rewritten in place on a terminal (step, loss, lr, tokens/s, ETA);
/// plain lines every few seconds when stderr is redirected (logs, CI).
/// </summary>
public sealed class TrainDisplay : IProgress<TrainProgress>
{
    /// <summary>What train and compare do on Ctrl-C or SIGTERM (see <see cref="Interrupt"/>).</summary>
    public const string OnInterrupt = "finishing the current step and saving a checkpoint";

    private readonly TextWriter stderr;
    private readonly bool live;
    private readonly Stopwatch sinceDraw = Stopwatch.StartNew();
    private readonly TimeSpan plainEvery;
    private readonly string prefix;
    private bool lineOpen;
    private readonly object gate = new();

    public TrainDisplay(TextWriter stderr, string prefix = "", double plainSeconds = 10)
    {
        this.stderr = stderr;
        live = ParseResultExtensions.IsTerminalStderr(stderr);
        this.prefix = prefix;
        plainEvery = TimeSpan.FromSeconds(plainSeconds);
    }

    public void Report(TrainProgress p)
    {
        lock (gate)
        {
            bool last = p.Step == p.TotalSteps;
            if (live ? sinceDraw.ElapsedMilliseconds < 200 && !last : sinceDraw.Elapsed < plainEvery && !last && p.Step != 1) return;
            sinceDraw.Restart();
            string val = p.ValLoss is double v ? $"  val {v:F4}" : "";
            string task = p.Task is { Count: > 0 } ? "  " + string.Join("  ", p.Task.Select(kv => $"{kv.Key} {kv.Value:F3}")) : "";
            string text = $"{prefix}step {p.Step}/{p.TotalSteps}  loss {p.Loss:F4}{val}{task}  lr {p.Lr:E2}  {p.TokensPerSecond:N0} tok/s  " +
                          $"elapsed {Format(p.Elapsed)}  ETA {Format(p.Eta)}";
            if (live)
            {
                int width = Math.Max(20, SafeWidth() - 1);
                stderr.Write("\r" + (text.Length > width ? text[..width] : text.PadRight(width)));
                lineOpen = true;
                if (last) EndLine();
            }
            else
            {
                stderr.WriteLine(text);
            }
        }
    }

    /// <summary>Prints a message on its own line, without tearing the live progress line.</summary>
    public void Log(string message)
    {
        lock (gate)
        {
            EndLine();
            stderr.WriteLine(prefix + message);
        }
    }

    private void EndLine()
    {
        if (!lineOpen) return;
        stderr.WriteLine();
        lineOpen = false;
    }

    private static int SafeWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
