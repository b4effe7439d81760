using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Model;
using DiffTransformer.Training;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft compare</c>: DIFF vs the parameter-matched Transformer, same data, order, seed and budget.</summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var cmd = new Command("compare",
            "Train the DIFF Transformer and the parameter-matched Transformer on the same data in the same order with the same " +
            "seed and budget, then print a table and write a combined loss plot (--archs adds DIFF V2, diff2). Takes every train option; --arch is ignored. " +
            "Run the same command again to resume an interrupted comparison.");
        var set = new TrainOptionSet();
        set.AddTo(cmd);
        var output = new Option<string>("--out", "-o") { Description = "Comparison directory (default runs/compare); sub-runs go to diff/, transformer/ (and diff2/).", HelpName = "dir" };
        var force = new Option<bool>("--force") { Description = "Start every run over." };
        var archs = new Option<string[]>("--archs")
        {
            Description = "Architectures to train side by side, two or more of diff, transformer, diff2 (default diff transformer).",
            AllowMultipleArgumentsPerToken = true, HelpName = "arch",
        };
        archs.AcceptOnlyFromAmong("diff", "transformer", "diff2");
        cmd.Add(output);
        cmd.Add(force);
        cmd.Add(archs);
        CliAction.Set(cmd, parse =>
        {
            var options = set.Apply(parse, new TrainOptions()) with { Out = parse.GetValue(output) ?? Path.Combine("runs", "compare") };
            set.Runtime.ApplyThreads(parse);
            var stdout = parse.Stdout();
            var display = new TrainDisplay(parse.Stderr());
            using var interrupt = new Interrupt(display.Log, TrainDisplay.OnInterrupt);
            ComparisonResult result;
            try
            {
                var list = parse.GetValue(archs) is { Length: > 0 } a ? a.Select(ArchitectureNames.Parse).ToList() : null;
                result = Comparison.Run(options, parse.GetValue(force), display.Log,
                    arch => new TrainDisplay(parse.Stderr(), $"[{ArchitectureNames.Name(arch)}] "), interrupt.Token, list);
            }
            catch (OperationCanceledException e)
            {
                display.Log(e.Message);
                return CliAction.Interrupted;
            }
            catch (TrainingDivergedException e)
            {
                display.Log("error: " + e.Message);
                return CliAction.Failed;
            }
            stdout.WriteLine();
            stdout.Write(result.Table);
            stdout.WriteLine();
            stdout.WriteLine($"plot: {result.Plot}");
            return CliAction.Ok;
        });
        return cmd;
    }
}
