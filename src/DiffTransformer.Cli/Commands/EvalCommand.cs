using System.CommandLine;
using System.Globalization;
using DiffTransformer.Cli.Common;
using DiffTransformer.Evaluation;
using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft eval lm|needle|attention|faithfulness</c>: thin shells over the library's suites (docs/EVALUATION.md).</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "Measure saved models: held-out loss (lm), multi-needle retrieval (needle), attention allocation (attention), " +
                                      "contextual hallucination (faithfulness). " +
                                      "Each writes <out>/<suite>.json, <suite>.md and plots; docs/EVALUATION.md defines every figure.");
        cmd.Add(Lm());
        cmd.Add(NeedleSuite("needle", "Multi-needle retrieval: N needles in a haystack, R asked; accuracy per N/R, depth and length, wrong answers classified."));
        cmd.Add(NeedleSuite("attention", "Attention allocation on the needle documents: the answering position's share on the answer and on the haystack, per layer."));
        cmd.Add(Faithfulness());
        return cmd;
    }

    private static Command Faithfulness()
    {
        var cmd = new Command("faithfulness",
            "Contextual hallucination on models trained with --task facts: contexts that state a memorised fact with another value; " +
            "answers that follow the context (faithful) against answers from memory (hallucinated), with closed- and open-book controls.");
        var common = new Common();
        common.AddTo(cmd);
        var data = new Option<string>("--data") { Description = "The facts task's dataset (default: the data the models were trained on, from their run directories).", HelpName = "dir" };
        var haystack = new Option<string[]>("--haystack") { Description = "Haystack text in place of the task's own: files, folders or JSONL.", AllowMultipleArgumentsPerToken = true };
        var field = new Option<string>("--field") { Description = "JSONL field of the haystack.", DefaultValueFactory = _ => "text" };
        var lengths = new Option<int[]>("--lengths") { Description = "Prompt lengths in tokens (default: a quarter, half and all of the shortest model context).", AllowMultipleArgumentsPerToken = true };
        var distractors = new Option<int[]>("--distractors") { Description = "Ordinary needles besides the asked one.", DefaultValueFactory = _ => [0, 2], AllowMultipleArgumentsPerToken = true };
        var samples = new Option<int>("--samples") { Description = "Documents per cell (length × distractors × probe).", DefaultValueFactory = _ => 24 };
        var seed = new Option<long>("--seed") { Description = "Seed of the documents.", DefaultValueFactory = _ => 1 };
        foreach (var o in new Option[] { data, haystack, field, lengths, distractors, samples, seed }) cmd.Add(o);
        CliAction.Set(cmd, parse =>
        {
            var options = new FaithfulnessEvalOptions
            {
                Data = parse.GetValue(data), Haystack = parse.GetValue(haystack) is { Length: > 0 } h ? h : null, HaystackField = parse.GetValue(field)!,
                Lengths = parse.GetValue(lengths) is { Length: > 0 } l ? l : null, Distractors = parse.GetValue(distractors)!,
                Samples = parse.GetValue(samples), Seed = parse.GetValue(seed),
            };
            return RunSuite(parse, common, "faithfulness", models =>
            {
                var r = FaithfulnessEval.Run(models, options, Progress(parse));
                return (options, r, r.ToMarkdown(), (Action<string>)(_ => { }));
            });
        });
        return cmd;
    }

    private sealed class Common
    {
        public Option<string[]> Models { get; } = new("--models", "-m") { Description = "Saved models (model directories or run directories with final/), side by side.", Required = true, AllowMultipleArgumentsPerToken = true, HelpName = "dir" };
        public Option<string> Out { get; } = new("--out", "-o") { Description = "Output directory for the report (default eval/).", DefaultValueFactory = _ => "eval", HelpName = "dir" };
        public RuntimeOptions Runtime { get; } = new();

        public void AddTo(Command c)
        {
            c.Add(Models);
            c.Add(Out);
            Runtime.AddTo(c);
        }
    }

    private static Command Lm()
    {
        var cmd = new Command("lm", "Held-out loss, perplexity and bits per byte on text files, folders, JSONL (--field) or a prepared dataset's split.");
        var common = new Common();
        common.AddTo(cmd);
        var inputs = new Argument<string[]>("inputs") { Description = "Text files, folders, JSONL files, or one prepared dataset directory.", Arity = ArgumentArity.OneOrMore };
        var field = new Option<string>("--field") { Description = "JSONL field holding the text.", DefaultValueFactory = _ => "text" };
        var split = new Option<string>("--split") { Description = "Split of a prepared dataset: val or train.", DefaultValueFactory = _ => "val" };
        var context = new Option<int?>("--context") { Description = "Tokens per window (default: each model's max_seq_len)." };
        var stride = new Option<int?>("--stride") { Description = "Window step (default: half the window)." };
        var maxDocs = new Option<int>("--max-docs") { Description = "Score at most this many documents.", DefaultValueFactory = _ => int.MaxValue };
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward.", DefaultValueFactory = _ => 8 };
        cmd.Add(inputs); cmd.Add(field); cmd.Add(split); cmd.Add(context); cmd.Add(stride); cmd.Add(maxDocs); cmd.Add(batch);
        CliAction.Set(cmd, parse =>
        {
            var options = new LmEvalOptions
            {
                Inputs = parse.GetValue(inputs)!, Field = parse.GetValue(field)!, Split = parse.GetValue(split)!, Context = parse.GetValue(context),
                Stride = parse.GetValue(stride), MaxDocuments = parse.GetValue(maxDocs), BatchSize = parse.GetValue(batch),
            };
            return RunSuite(parse, common, "lm", models =>
            {
                var r = LmEval.Run(models, options, Progress(parse));
                return (options, r, r.ToMarkdown(), (Action<string>)(_ => { }));
            });
        });
        return cmd;
    }

    private static Command NeedleSuite(string suite, string description)
    {
        var cmd = new Command(suite, description);
        var common = new Common();
        common.AddTo(cmd);
        var haystack = new Option<string[]>("--haystack") { Description = "Haystack text: files, folders or JSONL (default: generated filler).", AllowMultipleArgumentsPerToken = true };
        var field = new Option<string>("--field") { Description = "JSONL field of the haystack.", DefaultValueFactory = _ => "text" };
        var settings = new Option<string[]>("--settings") { Description = "N/R settings (N needles, R asked).", DefaultValueFactory = _ => ["1/1", "2/2", "4/2", "6/2"], AllowMultipleArgumentsPerToken = true };
        var depths = new Option<double[]>("--depths") { Description = "Answer depths, 0 (start) to 1 (end).", DefaultValueFactory = _ => [0, 0.25, 0.5, 0.75, 1], AllowMultipleArgumentsPerToken = true };
        var lengths = new Option<int[]>("--lengths") { Description = "Prompt lengths in tokens (default: a quarter, half and all of the shortest model context).", AllowMultipleArgumentsPerToken = true };
        var samples = new Option<int>("--samples") { Description = "Documents per cell.", DefaultValueFactory = _ => 5 };
        var seed = new Option<long>("--seed") { Description = "Seed of the documents.", DefaultValueFactory = _ => 1 };
        var digits = new Option<int>("--digits") { Description = "Digits of each magic number.", DefaultValueFactory = _ => 3 };
        var needle = new Option<string>("--needle") { Description = "Needle template with {key} and {value}.", DefaultValueFactory = _ => new NeedleTemplate().Needle };
        var question = new Option<string>("--question") { Description = "Question template with {key}.", DefaultValueFactory = _ => new NeedleTemplate().Question };
        foreach (var o in new Option[] { haystack, field, settings, depths, lengths, samples, seed, digits, needle, question }) cmd.Add(o);
        CliAction.Set(cmd, parse =>
        {
            var options = new NeedleEvalOptions
            {
                Haystack = parse.GetValue(haystack) ?? [], HaystackField = parse.GetValue(field)!,
                Settings = parse.GetValue(settings)!.Select(NeedleSetting.Parse).ToList(), Depths = parse.GetValue(depths)!,
                Lengths = parse.GetValue(lengths) is { Length: > 0 } l ? l : null, Samples = parse.GetValue(samples), Seed = parse.GetValue(seed),
                Task = new NeedleTaskOptions { ValueDigits = parse.GetValue(digits), Template = new NeedleTemplate { Needle = parse.GetValue(needle)!, Question = parse.GetValue(question)! } },
            };
            return RunSuite(parse, common, suite, models =>
            {
                if (suite == "needle")
                {
                    var r = NeedleEval.Run(models, options, Progress(parse));
                    return (options, (object)r, r.ToMarkdown(), (Action<string>)(dir =>
                    {
                        for (int i = 0; i < r.Models.Count; i++)
                            NeedlePlot.Write(Path.Combine(dir, $"needle-{i + 1}-{r.Models[i].Model.Arch.ToString().ToLowerInvariant()}.png"), r.Models[i], r.Lengths, r.Depths);
                    }));
                }
                var a = AttentionEval.Run(models, options, Progress(parse));
                return (options, a, a.ToMarkdown(), (Action<string>)(dir => AllocationPlot.Write(Path.Combine(dir, "attention-by-depth.png"), a)));
            });
        });
        return cmd;
    }

    private static int RunSuite(ParseResult parse, Common common, string suite, Func<List<EvalModel>, (object Options, object Result, string Markdown, Action<string> Plots)> run)
    {
        common.Runtime.ApplyThreads(parse);
        var models = EvalModel.LoadAll(parse.GetValue(common.Models)!, common.Runtime.GetKernel(parse));
        try
        {
            var (options, result, markdown, plots) = run(models);
            string outDir = parse.GetValue(common.Out)!;
            string commandLine = "difft " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
            var (json, md) = EvalReport.Write(outDir, suite, commandLine, models.Select(m => m.Info).ToList(), options, result, markdown);
            plots(outDir);
            var stdout = parse.Stdout();
            stdout.Write(markdown);
            stdout.WriteLine($"\nwrote {json}, {md} and plots in {outDir}");
            return CliAction.Ok;
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }

    private static IProgress<string> Progress(ParseResult parse)
    {
        var err = parse.Stderr();
        return new SyncProgress(s => err.WriteLine(s));
    }

    private sealed class SyncProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
