using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Model;
using DiffTransformer.Study;
using DiffTransformer.Training;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft study</c>: a thin shell over <see cref="StudyRunner"/> (docs/STUDY.md).</summary>
public static class StudyCommand
{
    public static Command Create()
    {
        var cmd = new Command("study",
            "Run a declared study (docs/STUDY.md): for every experiment of the plan and every seed, DIFF and the parameter-matched Transformer " +
            "trained the same way, then the experiment's evaluation suites on the pair; then report.md, study.json and plots with the mean, " +
            "spread and per-seed values of every figure. Run the same command again to continue where it stopped; finished units are reused.");
        var plan = new Option<string>("--plan") { Description = "The plan: a JSON file (e.g. study/plans/smoke.json).", Required = true, HelpName = "file.json" };
        var output = new Option<string>("--out", "-o") { Description = "Data, run directories and the suites' files with plots (default runs/study/<plan name>).", HelpName = "dir" };
        var results = new Option<string>("--results")
        {
            Description = "The unit records, the suites' JSON and markdown, and the report: the small files worth committing (default: --out).",
            HelpName = "dir",
        };
        var only = new Option<string[]>("--only") { Description = "Run only these experiments (the report covers every unit done).", AllowMultipleArgumentsPerToken = true, HelpName = "name" };
        var status = new Option<bool>("--status") { Description = "Say what is done and what remains, with an estimate of the time left; run nothing." };
        var report = new Option<bool>("--report") { Description = "Write the report over the units done so far; run nothing." };
        var runtime = new RuntimeOptions();
        foreach (var o in new Option[] { plan, output, results, only, status, report }) cmd.Add(o);
        runtime.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            var p = StudyPlan.Load(parse.GetValue(plan)!);
            var options = new StudyOptions
            {
                Out = parse.GetValue(output) ?? Path.Combine("runs", "study", p.Name),
                Results = parse.GetValue(results),
                Only = parse.GetValue(only) is { Length: > 0 } o ? o : null,
                Kernel = runtime.GetKernel(parse),
                CommandLine = "difft " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            var stdout = parse.Stdout();
            if (parse.GetValue(status))
            {
                stdout.Write(StudyRunner.Status(p, options).ToText());
                return CliAction.Ok;
            }
            if (parse.GetValue(report))
            {
                var r = StudyRunner.Report(p, options);
                stdout.Write(r.Markdown);
                return CliAction.Ok;
            }
            runtime.ApplyThreads(parse);
            var display = new TrainDisplay(parse.Stderr());
            using var interrupt = new Interrupt(display.Log, TrainDisplay.OnInterrupt);
            var err = parse.Stderr();
            try
            {
                var r = StudyRunner.Run(p, options, display.Log,
                    (unit, arch) => new TrainDisplay(err, $"[{unit.Id} {ArchitectureNames.Name(arch)}] "),
                    new Progress(s => err.WriteLine(s)), interrupt.Token);
                stdout.WriteLine();
                stdout.Write(StudyRunner.Status(p, options).ToText());
                return CliAction.Ok;
            }
            catch (OperationCanceledException e)
            {
                display.Log(e.Message + "; run the same command again to continue");
                return CliAction.Interrupted;
            }
            catch (TrainingDivergedException e)
            {
                display.Log("error: " + e.Message);
                return CliAction.Failed;
            }
        });
        return cmd;
    }

    private sealed class Progress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
