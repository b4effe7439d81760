using System.CommandLine;
using System.Text;
using DiffTransformer.Inference;

namespace DiffTransformer.Cli.Common;

/// <summary>The sampling and stopping options: what `generate` uses, and `serve`'s defaults for requests that leave a field out.</summary>
public sealed class SamplingOptionSet
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
        foreach (Option o in new Option[] { MaxNewTokens, Temperature, TopK, TopP, Greedy, Seed, Stop, IgnoreEot, Truncate }) cmd.Add(o);
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

    /// <summary>\n, \t, \r and \\ in a command-line stop string.</summary>
    public static string Unescape(string s)
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
