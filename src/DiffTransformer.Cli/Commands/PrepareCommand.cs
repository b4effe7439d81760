using System.CommandLine;
using System.Diagnostics;
using DiffTransformer.Cli.Common;
using DiffTransformer.Data;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft prepare</c>: tokenize text files, folders or JSONL into a sharded train/val token dataset.</summary>
public static class PrepareCommand
{
    public static Command Create()
    {
        var cmd = new Command("prepare", "Tokenize a corpus (text files, folders of them, JSONL or JSONL.gz) into a dataset directory of train/val token shards.");
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Text files (one document each), folders (searched recursively, see --glob) and JSONL files (*.jsonl, *.jsonl.gz; one document per line).",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--out", "-o") { Description = "Dataset directory to create.", HelpName = "dir", Required = true };
        var tokenizer = new Option<string>("--tokenizer", "-t")
        {
            Description = $"Tokenizer: {string.Join(", ", Tokenizers.Names)}.",
            HelpName = "name",
            DefaultValueFactory = _ => "byte",
        };
        var glob = new Option<string[]>("--glob")
        {
            Description = "File-name pattern for files inside folders (repeatable; default *.txt and *.md).",
            HelpName = "pattern",
            AllowMultipleArgumentsPerToken = false,
        };
        var field = new Option<string>("--field") { Description = "JSONL field holding the text.", HelpName = "name", DefaultValueFactory = _ => "text" };
        var valFraction = new Option<double?>("--val-fraction")
        {
            Description = "Probability that a document goes to validation, drawn per document from the seed (default 0.05).",
            HelpName = "p",
        };
        var valWhere = new Option<string?>("--val-where")
        {
            Description = "Select validation documents by a JSONL field instead, e.g. \"year>=2000\" (operators = != < <= > >=; numeric when both sides are numbers).",
            HelpName = "expr",
        };
        var seed = new Option<long>("--seed") { Description = "Seed of the validation draw.", DefaultValueFactory = _ => 1234 };
        var threads = new Option<int>("--threads") { Description = "Tokenizer threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var shardTokens = new Option<long>("--shard-tokens") { Description = "Start a new shard file after this many tokens.", DefaultValueFactory = _ => 100_000_000 };
        var force = new Option<bool>("--force") { Description = "Replace the dataset that --out already holds (its meta.json, shards and the files its meta.json names; other files are kept, and a non-empty folder that holds no dataset is refused)." };
        cmd.Add(inputs);
        cmd.Add(output);
        cmd.Add(tokenizer);
        cmd.Add(glob);
        cmd.Add(field);
        cmd.Add(valFraction);
        cmd.Add(valWhere);
        cmd.Add(seed);
        cmd.Add(threads);
        cmd.Add(shardTokens);
        cmd.Add(force);
        CliAction.Set(cmd, parse =>
        {
            var stderr = parse.Stderr();
            if (parse.GetValue(valFraction) is not null && parse.GetValue(valWhere) is not null)
                throw new UsageException("give either --val-fraction or --val-where, not both");
            var globs = parse.GetValue(glob);
            var options = new PrepareOptions
            {
                Inputs = parse.GetValue(inputs)!,
                OutputDirectory = parse.GetValue(output)!,
                Tokenizer = parse.GetValue(tokenizer)!,
                Field = parse.GetValue(field)!,
                ValFraction = parse.GetValue(valFraction) ?? 0.05,
                ValWhere = parse.GetValue(valWhere),
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
                ShardTokens = parse.GetValue(shardTokens),
                Force = parse.GetValue(force),
            };
            if (globs is { Length: > 0 }) options = options with { Globs = globs };

            using var interrupt = new Interrupt();   // let the library delete its temp directory before we exit
            var progress = new StderrProgress(stderr);
            PrepareResult result;
            try
            {
                result = DatasetPreparer.Prepare(options, progress, interrupt.Token);
            }
            catch (OperationCanceledException)
            {
                progress.Finish();
                stderr.WriteLine("error: interrupted; nothing was written");
                return CliAction.Failed;
            }
            finally
            {
                progress.Finish();
            }
            PrintSummary(result, parse.Stdout());
            foreach (var w in result.Warnings) stderr.WriteLine("warning: " + w);
            return CliAction.Ok;
        });
        return cmd;
    }

    private static void PrintSummary(PrepareResult r, TextWriter stdout)
    {
        var m = r.Meta;
        stdout.WriteLine($"dataset {r.OutputDirectory}: tokenizer {m.Tokenizer} (vocab {m.VocabSize:N0}, EOT {m.EotId}), validation by {(m.ValWhere is { } w ? $"--val-where {w}" : $"--val-fraction {m.ValFraction} (seed {m.Seed})")}");
        foreach (var (name, s) in new[] { ("train", m.Train), ("val", m.Val) })
            stdout.WriteLine($"  {name,-5} {s.Documents,9:N0} documents  {s.Tokens,14:N0} tokens  {s.Bytes,14:N0} bytes  {s.BytesPerToken,6:F3} bytes/token  {s.Shards.Count} shard{(s.Shards.Count == 1 ? "" : "s")}");
        if (r.EmptyDocumentsSkipped > 0) stdout.WriteLine($"  skipped {r.EmptyDocumentsSkipped:N0} empty documents");
        double secs = r.Elapsed.TotalSeconds;
        stdout.WriteLine($"  read {r.InputBytes / 1e6:F1} MB of input ({(m.Train.Bytes + m.Val.Bytes) / 1e6:F1} MB of text) in {secs:F1} s ({r.InputBytes / 1e6 / Math.Max(secs, 1e-9):F1} MB/s)");
    }

    /// <summary>
    /// Progress on stderr: one line rewritten in place (at most 4 times a second) on a terminal, otherwise a plain
    /// line every 10 seconds so that logs stay readable. Called synchronously on the preparing thread.
    /// </summary>
    private sealed class StderrProgress(TextWriter stderr) : IProgress<PrepareProgress>
    {
        private readonly bool terminal = ParseResultExtensions.IsTerminalStderr(stderr);
        private readonly Stopwatch sinceLast = Stopwatch.StartNew();
        private int lastWidth;

        public void Report(PrepareProgress p)
        {
            if (sinceLast.Elapsed < (terminal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(10))) return;
            sinceLast.Restart();
            double mb = p.InputBytesRead / 1e6;
            string pct = p.InputBytesTotal > 0 ? $" ({100.0 * p.InputBytesRead / p.InputBytesTotal:F0}%)" : "";
            string line = $"prepare: {p.Documents:N0} documents, {p.Tokens:N0} tokens, {mb:F1} MB read{pct}, {mb / Math.Max(p.Elapsed.TotalSeconds, 1e-9):F1} MB/s, {p.Elapsed:hh\\:mm\\:ss}";
            if (terminal)
            {
                stderr.Write("\r" + line.PadRight(lastWidth));
                lastWidth = line.Length;
            }
            else
            {
                stderr.WriteLine(line);
            }
        }

        /// <summary>Ends the in-place line so that what follows starts on a fresh one.</summary>
        public void Finish()
        {
            if (terminal && lastWidth > 0) stderr.WriteLine();
            lastWidth = 0;
        }
    }
}
