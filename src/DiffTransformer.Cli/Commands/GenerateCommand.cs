using System.CommandLine;
using System.Globalization;
using System.Text;
using DiffTransformer.Cli.Common;
using DiffTransformer.Inference;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft generate</c>: continue a prompt with a saved model, streaming the text to stdout.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var cmd = new Command("generate", "Continue a prompt with a saved model; the text streams to stdout, speeds go to stderr at the end.");
        var prompt = new Argument<string?>("prompt")
        {
            Description = "The prompt; omit it or give - to read it from stdin. An empty prompt starts a new document (the model is fed end-of-text).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var model = new SavedModelOptions();
        var sampling = new SamplingOptionSet();
        var runtime = new RuntimeOptions();
        cmd.Add(prompt);
        model.AddTo(cmd);
        sampling.AddTo(cmd);
        runtime.AddTo(cmd);
        CliAction.Set(cmd, parse =>
        {
            var stdout = parse.Stdout();
            var stderr = parse.Stderr();
            runtime.ApplyThreads(parse);
            var options = sampling.Resolve(parse);
            string text = parse.GetValue(prompt) is string p && p != "-" ? p : ReadStdin(stderr);
            using var generator = model.Load(parse, runtime.GetKernel(parse));

            using var interrupt = new Interrupt();   // stop after the current token and print what we have
            try
            {
                var result = generator.Generate(text, options, piece =>
                {
                    stdout.Write(piece);
                    stdout.Flush();
                }, interrupt.Token);
                stdout.WriteLine();
                stdout.Flush();
                stderr.WriteLine(Summary(result, options.Sampling.IsGreedy));
            }
            catch (PromptTooLongException e)
            {
                throw new UsageException(e.Message + " (--truncate)");
            }
            catch (OperationCanceledException)
            {
                stdout.WriteLine();
                stderr.WriteLine("interrupted");
                return CliAction.Failed;
            }
            return CliAction.Ok;
        });
        return cmd;
    }

    private static string ReadStdin(TextWriter stderr)
    {
        if (!Console.IsInputRedirected) stderr.WriteLine("reading the prompt from stdin (end it with Ctrl-D)");
        using var reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        return reader.ReadToEnd();
    }

    private static string Summary(GenerationResult r, bool greedy)
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
}
