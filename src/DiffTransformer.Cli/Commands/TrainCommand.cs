using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Training;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft train</c>: from a prepared dataset (or the built-in task) to a checkpoint.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train",
            "Train a DIFF Transformer (or the baseline, --arch transformer). Without --data it trains the tiny preset on a built-in " +
            "task (--task; default the synthetic key→value recall task, a few minutes on 2 cores). Writes metrics.jsonl, loss.png, checkpoints/ and final/ into --out.");
        var set = new TrainOptionSet();
        set.AddTo(cmd);
        var output = new Option<string>("--out", "-o") { Description = "Run directory (default runs/default).", HelpName = "dir" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its latest checkpoint (the loss curve continues exactly)." };
        var force = new Option<bool>("--force") { Description = "Start over in an --out that already holds a run (deletes it)." };
        cmd.Add(output);
        cmd.Add(resume);
        cmd.Add(force);
        CliAction.Set(cmd, parse =>
        {
            string outDir = parse.GetValue(output) ?? Path.Combine("runs", "default");
            bool isResume = parse.GetValue(resume);
            if (isResume && parse.GetValue(force)) throw new UsageException("--resume and --force contradict each other");
            var baseOptions = isResume ? Trainer.LoadRunOptions(outDir) : new TrainOptions();
            var options = set.Apply(parse, baseOptions) with { Out = outDir };
            set.Runtime.ApplyThreads(parse);

            var display = new TrainDisplay(parse.Stderr());
            using var interrupt = new Interrupt(display.Log, TrainDisplay.OnInterrupt);
            var trainer = new Trainer(options, display.Log, display) { Resume = isResume, Force = parse.GetValue(force) };
            TrainResult r;
            try
            {
                r = trainer.Run(interrupt.Token);
            }
            catch (TrainingDivergedException e)
            {
                display.Log("error: " + e.Message);
                return CliAction.Failed;
            }
            Print(r, parse.Stdout());
            return r.Outcome == TrainOutcome.Interrupted ? CliAction.Interrupted : CliAction.Ok;
        });
        return cmd;
    }

    private static void Print(TrainResult r, TextWriter stdout)
    {
        stdout.WriteLine(r.Outcome == TrainOutcome.Completed ? $"trained {r.Step} steps in {r.Elapsed.TotalMinutes:F1} min" : $"stopped at step {r.Step}");
        stdout.WriteLine($"  parameters        {r.Parameters:N0}");
        if (r.FinalTrainLoss is double tl) stdout.WriteLine($"  train loss        {tl:F4}  (mean of the last 10% of steps)");
        if (r.FinalValLoss is double vl) stdout.WriteLine($"  validation loss   {vl:F4}");
        foreach (var (k, v) in r.Task) stdout.WriteLine($"  {k,-17} {v:F4}");
        stdout.WriteLine($"  throughput        {r.TokensPerSecond:N0} tokens/s");
        if (r.FinalModel is not null) stdout.WriteLine($"  model             {r.FinalModel}");
        if (r.LastCheckpoint is not null) stdout.WriteLine($"  checkpoint        {r.LastCheckpoint}");
        stdout.WriteLine($"  metrics           {Path.Combine(r.RunDirectory, "metrics.jsonl")}  (plot: loss.png)");
    }
}
