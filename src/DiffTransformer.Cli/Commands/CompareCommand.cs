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
            "seed and budget, then print a table and write a combined loss plot. Takes every train option; --arch is ignored. " +
            "Run the same command again to resume an interrupted comparison.");
        var set = new TrainOptionSet();
        set.AddTo(cmd);
        var output = new Option<string>("--out", "-o") { Description = "Comparison directory (default runs/compare); sub-runs go to diff/ and transformer/.", HelpName = "dir" };
        var force = new Option<bool>("--force") { Description = "Start both runs over." };
        cmd.Add(output);
        cmd.Add(force);
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
                result = Comparison.Run(options, parse.GetValue(force), display.Log,
                    arch => new TrainDisplay(parse.Stderr(), arch == Architecture.Diff ? "[diff] " : "[transformer] "), interrupt.Token);
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
