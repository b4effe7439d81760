using System.CommandLine;
using System.Globalization;
using DiffTransformer.Cli.Common;
using DiffTransformer.Evaluation;
using DiffTransformer.Model;
using DiffTransformer.Tasks.Icl;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft eval lm|needle|attention|faithfulness|outliers|quant|icl</c>: thin shells over the library's suites (docs/EVALUATION.md).</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "Measure saved models: held-out loss (lm), multi-needle retrieval (needle), attention allocation (attention), " +
                                      "contextual hallucination (faithfulness), activation outliers (outliers), low-bit attention logits (quant), " +
                                      "many-shot in-context classification (icl). " +
                                      "Each writes <out>/<suite>.json, <suite>.md and plots; docs/EVALUATION.md defines every figure.");
        cmd.Add(Lm());
        cmd.Add(NeedleSuite("needle", "Multi-needle retrieval: N needles in a haystack, R asked; accuracy per N/R, depth and length, wrong answers classified."));
        cmd.Add(NeedleSuite("attention", "Attention allocation on the needle documents: the answering position's share on the answer and on the haystack, per layer."));
        cmd.Add(Faithfulness());
        cmd.Add(Outliers());
        cmd.Add(Quant());
        cmd.Add(Icl());
        return cmd;
    }

    private static Command Icl()
    {
        var cmd = new Command("icl",
            "Many-shot in-context classification: held-out examples classified after k demonstrations under label names drawn per episode, " +
            "by the names' log-probabilities; accuracy against k (1 to what the context holds) with chance, and the spread of accuracy across " +
            "random and class-grouped orders of fixed demonstration sets; plots of both.");
        var common = new Common();
        common.AddTo(cmd);
        var task = new IclTaskOptions();
        var defaults = new IclEvalOptions();
        var inputs = new Argument<string[]>("examples")
        {
            Description = "Labelled examples: .jsonl or .jsonl.gz files or folders (default: the icl task the models were trained on, from their run directories).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var textField = new Option<string>("--text-field") { Description = $"JSONL field of an example's text (default {task.TextField}, or the trained task's).", HelpName = "name" };
        var labelField = new Option<string>("--label-field") { Description = $"JSONL field of its label (default {task.LabelField}, or the trained task's).", HelpName = "name" };
        var maxBytes = new Option<int>("--max-text-bytes") { Description = $"UTF-8 bytes of a text kept, cut at a character boundary (default {task.MaxTextBytes}, or the trained task's).", HelpName = "n" };
        var ways = new Option<int>("--ways") { Description = "Classes an episode (default: every class, or the trained task's).", HelpName = "n" };
        var context = new Option<int?>("--context")
        {
            Description = "Tokens an episode may take (default: the training context of the icl task the models were trained on, else each model's max_seq_len).",
            HelpName = "n",
        };
        var shots = new Option<int[]>("--shots") { Description = "Numbers of demonstrations, ascending (default 1, 2, 4, … and the most every model's context holds).", AllowMultipleArgumentsPerToken = true, HelpName = "k" };
        var sets = new Option<int>("--sets") { Description = "Demonstration sets per number of shots.", DefaultValueFactory = _ => defaults.Sets, HelpName = "n" };
        var queries = new Option<int>("--queries") { Description = "Held-out queries per demonstration set, balanced over its classes.", DefaultValueFactory = _ => defaults.Queries, HelpName = "n" };
        var orderSets = new Option<int>("--order-sets") { Description = "Fixed demonstration sets of the order-robustness measure (0 leaves it out).", DefaultValueFactory = _ => defaults.OrderSets, HelpName = "n" };
        var orders = new Option<int>("--orders") { Description = "Random orders, and as many class-grouped ones, of each fixed set.", DefaultValueFactory = _ => defaults.Orders, HelpName = "p" };
        var orderShots = new Option<int?>("--order-shots") { Description = "Demonstrations of each fixed set (default: the most every model's context holds).", HelpName = "k" };
        var seed = new Option<long>("--seed") { Description = "Seed of the episodes.", DefaultValueFactory = _ => defaults.Seed };
        var batch = new Option<int>("--batch-size") { Description = "(query, label name) rows a forward.", DefaultValueFactory = _ => defaults.BatchSize };
        cmd.Add(inputs);
        foreach (var o in new Option[] { textField, labelField, maxBytes, ways, context, shots, sets, queries, orderSets, orders, orderShots, seed, batch }) cmd.Add(o);
        CliAction.Set(cmd, parse =>
        {
            IclTaskOptions? asked = null;
            if (parse.Given(textField) || parse.Given(labelField) || parse.Given(maxBytes) || parse.Given(ways))
                asked = new IclTaskOptions
                {
                    TextField = parse.Given(textField) ? parse.GetValue(textField)! : task.TextField,
                    LabelField = parse.Given(labelField) ? parse.GetValue(labelField)! : task.LabelField,
                    MaxTextBytes = parse.Given(maxBytes) ? parse.GetValue(maxBytes) : task.MaxTextBytes,
                    Ways = parse.Given(ways) ? parse.GetValue(ways) : null,
                };
            var options = new IclEvalOptions
            {
                Inputs = parse.GetValue(inputs) ?? [], Task = asked, Context = parse.GetValue(context), Shots = parse.GetValue(shots) is { Length: > 0 } k ? k : null,
                Sets = parse.GetValue(sets), Queries = parse.GetValue(queries), OrderSets = parse.GetValue(orderSets), Orders = parse.GetValue(orders),
                OrderShots = parse.GetValue(orderShots), Seed = parse.GetValue(seed), BatchSize = parse.GetValue(batch),
            };
            return RunSuite(parse, common, EvalSuites.Icl, options);
        });
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
            return RunSuite(parse, common, EvalSuites.Faithfulness, options);
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
        var text = new HeldOutTextOptions();
        text.AddTo(cmd);
        var stride = new Option<int?>("--stride") { Description = "Window step (default: half the window)." };
        cmd.Add(stride);
        CliAction.Set(cmd, parse =>
        {
            var options = text.Build(parse, parse.GetValue(stride));
            return RunSuite(parse, common, EvalSuites.Lm, options);
        });
        return cmd;
    }

    private static Command Outliers()
    {
        var cmd = new Command("outliers",
            "Activation outliers on held-out text (as eval lm reads it, in disjoint windows): top-1/2/3/10/100 and median of |attention logits| " +
            "(DIFF: both maps) and |hidden states| (each layer's output), overall and per layer, top-1/median and kurtosis; a histogram per model.");
        var common = new Common();
        common.AddTo(cmd);
        var text = new HeldOutTextOptions();
        text.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            var options = text.Build(parse);
            return RunSuite(parse, common, EvalSuites.Outliers, options);
        });
        return cmd;
    }

    private static Command Quant()
    {
        var cmd = new Command("quant",
            "Low-bit attention logits: held-out loss (as eval lm) and needle accuracy (as eval needle) at full precision and with q·kᵀ/√d quantised " +
            "before the softmax (symmetric, absmax scale) to each of --bits, per tensor and per head; plots against the bits.");
        var common = new Common();
        common.AddTo(cmd);
        var text = new HeldOutTextOptions();
        text.AddTo(cmd);
        var needle = new NeedleGridOptions("--haystack-field");
        needle.AddTo(cmd);
        var bits = new Option<int[]>("--bits") { Description = "Bit widths of the attention logits (2 to 24).", DefaultValueFactory = _ => [16, 8, 6, 4], AllowMultipleArgumentsPerToken = true };
        var granularity = new Option<string[]>("--granularity")
        {
            Description = "Scale groups: tensor (one scale for a sequence's maps in a layer), head (one per map).",
            DefaultValueFactory = _ => ["tensor", "head"], AllowMultipleArgumentsPerToken = true,
        };
        granularity.AcceptOnlyFromAmong("tensor", "head");
        cmd.Add(bits);
        cmd.Add(granularity);
        CliAction.Set(cmd, parse =>
        {
            var options = new QuantEvalOptions
            {
                Text = text.Build(parse), Needle = needle.Build(parse), Bits = parse.GetValue(bits)!,
                Granularities = parse.GetValue(granularity)!.Select(g => Enum.Parse<QuantGranularity>(g, ignoreCase: true)).ToList(),
            };
            return RunSuite(parse, common, EvalSuites.Quant, options);
        });
        return cmd;
    }

    private static Command NeedleSuite(string suite, string description)
    {
        var cmd = new Command(suite, description);
        var common = new Common();
        common.AddTo(cmd);
        var grid = new NeedleGridOptions();
        grid.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            var options = grid.Build(parse);
            return RunSuite(parse, common, EvalSuites.Get(suite), options);
        });
        return cmd;
    }

    private static int RunSuite(ParseResult parse, Common common, EvalSuite suite, object options)
    {
        common.Runtime.ApplyThreads(parse);
        var models = EvalModel.LoadAll(parse.GetValue(common.Models)!, common.Runtime.GetKernel(parse));
        try
        {
            var output = suite.Run(models, options, Progress(parse));
            string outDir = parse.GetValue(common.Out)!;
            string commandLine = "difft " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
            var (json, md) = output.Write(outDir, commandLine);
            var stdout = parse.Stdout();
            stdout.Write(output.Markdown);
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
