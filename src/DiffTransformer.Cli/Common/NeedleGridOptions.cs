using System.CommandLine;
using DiffTransformer.Evaluation;
using DiffTransformer.Tasks.Needle;

namespace DiffTransformer.Cli.Common;

/// <summary>The needle grid of <c>eval needle</c>, <c>attention</c> and <c>quant</c>: haystack, settings, depths, lengths, samples, seed and templates.</summary>
public sealed class NeedleGridOptions
{
    /// <param name="fieldName">the haystack's JSONL field option: --field, or --haystack-field where --field names the held-out text's.</param>
    public NeedleGridOptions(string fieldName = "--field") => Field = new(fieldName) { Description = "JSONL field of the haystack.", DefaultValueFactory = _ => "text" };

    public Option<string[]> Haystack { get; } = new("--haystack") { Description = "Haystack text: files, folders or JSONL (default: generated filler).", AllowMultipleArgumentsPerToken = true };
    public Option<string> Field { get; }
    public Option<string[]> Settings { get; } = new("--settings") { Description = "N/R settings (N needles, R asked).", DefaultValueFactory = _ => ["1/1", "2/2", "4/2", "6/2"], AllowMultipleArgumentsPerToken = true };
    public Option<double[]> Depths { get; } = new("--depths") { Description = "Answer depths, 0 (start) to 1 (end).", DefaultValueFactory = _ => [0, 0.25, 0.5, 0.75, 1], AllowMultipleArgumentsPerToken = true };
    public Option<int[]> Lengths { get; } = new("--lengths") { Description = "Prompt lengths in tokens (default: a quarter, half and all of the shortest model context).", AllowMultipleArgumentsPerToken = true };
    public Option<int> Samples { get; } = new("--samples") { Description = "Documents per cell.", DefaultValueFactory = _ => 5 };
    public Option<long> Seed { get; } = new("--seed") { Description = "Seed of the documents.", DefaultValueFactory = _ => 1 };
    public Option<int> Digits { get; } = new("--digits") { Description = "Digits of each magic number.", DefaultValueFactory = _ => 3 };
    public Option<string> Needle { get; } = new("--needle") { Description = "Needle template with {key} and {value}.", DefaultValueFactory = _ => new NeedleTemplate().Needle };
    public Option<string> Question { get; } = new("--question") { Description = "Question template with {key}.", DefaultValueFactory = _ => new NeedleTemplate().Question };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Haystack, Field, Settings, Depths, Lengths, Samples, Seed, Digits, Needle, Question }) command.Add(o);
    }

    public NeedleEvalOptions Build(ParseResult parse) => new()
    {
        Haystack = parse.GetValue(Haystack) ?? [], HaystackField = parse.GetValue(Field)!,
        Settings = parse.GetValue(Settings)!.Select(NeedleSetting.Parse).ToList(), Depths = parse.GetValue(Depths)!,
        Lengths = parse.GetValue(Lengths) is { Length: > 0 } l ? l : null, Samples = parse.GetValue(Samples), Seed = parse.GetValue(Seed),
        Task = new NeedleTaskOptions { ValueDigits = parse.GetValue(Digits), Template = new NeedleTemplate { Needle = parse.GetValue(Needle)!, Question = parse.GetValue(Question)! } },
    };
}
