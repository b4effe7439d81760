using System.CommandLine;
using System.Globalization;
using System.Text;
using DiffTransformer.Cli.Common;
using DiffTransformer.Inference;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft generate</c>: continue a prompt with a saved model, streaming the text to stdout.</summary>
public static class GenerateCommand
{
    /// <summary>The sampling and stopping options, shared with <c>serve</c> (as defaults there).</summary>
    internal sealed class SamplingOptionSet
    {
        public Option<int> MaxNewTokens { get; } = new("--max-new-tokens", "-n") { Description = "Generate at most this many tokens.", DefaultValueFactory = _ => 256 };
        public Option<double> Temperature { get; } = new("--temperature", "-t") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 1.0 };
        public Option<int> TopK { get; } = new("--top-k") { Description = "Sample among the k most likely tokens only (0: all).", DefaultValueFactory = _ => 0 };
        public Option<double> TopP { get; } = new("--top-p") { Description = "Sample among the smallest set of most likely tokens whose mass is ≥ p (1: all).", DefaultValueFactory = _ => 1.0 };
        public Option<bool> Greedy { get; } = new("--greedy") { Description = "Always take the most likely token (same as --temperature 0)." };
        public Option<long?> Seed { get; } = new("--seed", "-s") { Description = "Seed of the sampler, for reproducible output (default: random, printed at the end)." };
        public Option<string[]> Stop { get; } = new("--stop")
        {
            Description = "Stop before this text (repeatable; \\n, \\t and \\\\ are unescaped).",
            HelpName = "text",
            AllowMultipleArgumentsPerToken = false,
        };
        public Option<bool> IgnoreEot { get; } = new("--ignore-eot") { Description = "Do not stop at end-of-text (it is printed as <|endoftext|>)." };
        public Option<bool> Truncate { get; } = new("--truncate") { Description = "Drop tokens from the start of a prompt too long for the context instead of refusing it." };

        public void AddTo(Command cmd)
        {
            cmd.Add(MaxNewTokens);
            cmd.Add(Temperature);
            cmd.Add(TopK);
            cmd.Add(TopP);
            cmd.Add(Greedy);
            cmd.Add(Seed);
            cmd.Add(Stop);
            cmd.Add(IgnoreEot);
            cmd.Add(Truncate);
        }

        public GenerationOptions Resolve(ParseResult parse) => new GenerationOptions
        {
            MaxNewTokens = parse.GetValue(MaxNewTokens),
            Sampling = new SamplingOptions
            {
                Temperature = parse.GetValue(Greedy) ? 0 : parse.GetValue(Temperature),
                TopK = parse.GetValue(TopK),
                TopP = parse.GetValue(TopP),
                Seed = parse.GetValue(Seed),
            },
            StopStrings = [.. (parse.GetValue(Stop) ?? []).Select(Unescape)],
            StopAtEndOfText = !parse.GetValue(IgnoreEot),
            TruncatePromptFromLeft = parse.GetValue(Truncate),
        }.Validate();
    }

    internal static Option<string> ModelOption() => new("--model", "-m")
    {
        Description = "The saved model: a directory with model.safetensors, config.json and tokenizer.json (what train writes).",
        HelpName = "dir",
        Required = true,
    };

    internal static Option<string?> TokenizerOption() => new("--tokenizer")
    {
        Description = "Tokenizer for a model saved without tokenizer.json (byte, gpt2, cl100k_base).",
        HelpName = "name",
    };

    public static Command Create()
    {
        var cmd = new Command("generate", "Continue a prompt with a saved model; the text streams to stdout, speeds go to stderr at the end.");
        var prompt = new Argument<string?>("prompt")
        {
            Description = "The prompt; omit it or give - to read it from stdin. An empty prompt starts a new document (the model is fed end-of-text).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var model = ModelOption();
        var tokenizer = TokenizerOption();
        var sampling = new SamplingOptionSet();
        cmd.Add(prompt);
        cmd.Add(model);
        cmd.Add(tokenizer);
        sampling.AddTo(cmd);
        var runtime = BenchCommand.AddRuntimeOptions(cmd);
        CliAction.Set(cmd, parse =>
        {
            var kernel = BenchCommand.ApplyRuntime(parse, runtime);
            var options = sampling.Resolve(parse);
            string text = parse.GetValue(prompt) is string p && p != "-" ? p : ReadStdin();
            using var generator = TextGenerator.Load(parse.GetValue(model)!, parse.GetValue(tokenizer), kernel);

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;   // stop after the current token and print what we have
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            var stdout = Console.Out;
            try
            {
                var result = generator.Generate(text, options, piece =>
                {
                    stdout.Write(piece);
                    stdout.Flush();
                }, cancel.Token);
                stdout.WriteLine();
                stdout.Flush();
                Console.Error.WriteLine(Summary(result, options.Sampling.IsGreedy));
            }
            catch (PromptTooLongException e)
            {
                throw new UsageException(e.Message + " (--truncate)");
            }
            catch (OperationCanceledException)
            {
                stdout.WriteLine();
                Console.Error.WriteLine("interrupted");
                return CliAction.Failed;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            return CliAction.Ok;
        });
        return cmd;
    }

    private static string ReadStdin()
    {
        if (!Console.IsInputRedirected) Console.Error.WriteLine("reading the prompt from stdin (end it with Ctrl-D)");
        using var reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        return reader.ReadToEnd();
    }

    internal static string Summary(GenerationResult r, bool greedy)
    {
        var inv = CultureInfo.InvariantCulture;
        string finish = r.FinishReason switch
        {
            FinishReason.EndOfText => "end-of-text",
            FinishReason.StopString => $"stop string {Quote(r.StopString!)}",
            FinishReason.MaxTokens => "max new tokens",
            _ => "context full",
        };
        string truncated = r.TruncatedTokens > 0 ? string.Create(inv, $" ({r.TruncatedTokens} dropped from the left)") : "";
        return string.Create(inv,
            $"prefill: {r.PromptTokens} token{(r.PromptTokens == 1 ? "" : "s")}{truncated} in {r.PrefillTime.TotalSeconds:F3} s ({r.PrefillTokensPerSecond:F1} tokens/s); " +
            $"decode: {r.DecodeSteps} token{(r.DecodeSteps == 1 ? "" : "s")} in {r.DecodeTime.TotalSeconds:F3} s ({r.DecodeTokensPerSecond:F1} tokens/s); " +
            $"{r.Tokens.Count} tokens generated, stopped at {finish}; {(greedy ? "greedy" : $"seed {r.Seed}")}");
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\t", "\\t") + "\"";

    /// <summary>\n, \t, \r and \\ in a command-line stop string.</summary>
    internal static string Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                char c = s[i + 1];
                string? r = c switch { 'n' => "\n", 't' => "\t", 'r' => "\r", '\\' => "\\", _ => null };
                if (r is not null) { sb.Append(r); i++; continue; }
            }
            sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
