using System.CommandLine;
using DiffTransformer.Evaluation;

namespace DiffTransformer.Cli.Common;

/// <summary>The held-out text of <c>eval lm</c>, <c>outliers</c> and <c>quant</c>: the inputs, --field, --split, --context, --max-docs, --batch-size.</summary>
public sealed class HeldOutTextOptions
{
    public Argument<string[]> Inputs { get; } = new("inputs") { Description = "Text files, folders, JSONL files, or one prepared dataset directory.", Arity = ArgumentArity.OneOrMore };
    public Option<string> Field { get; } = new("--field") { Description = "JSONL field holding the text.", DefaultValueFactory = _ => "text" };
    public Option<string> Split { get; } = new("--split") { Description = "Split of a prepared dataset: val or train.", DefaultValueFactory = _ => "val" };
    public Option<int?> Context { get; } = new("--context") { Description = "Tokens per window (default: each model's max_seq_len)." };
    public Option<int> MaxDocs { get; } = new("--max-docs") { Description = "Read at most this many documents.", DefaultValueFactory = _ => int.MaxValue };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Windows per forward.", DefaultValueFactory = _ => 8 };

    public void AddTo(Command command)
    {
        command.Add(Inputs);
        foreach (var o in new Option[] { Field, Split, Context, MaxDocs, BatchSize }) command.Add(o);
    }

    /// <summary>The options as given, with <paramref name="stride"/> (eval lm's own option).</summary>
    public LmEvalOptions Build(ParseResult parse, int? stride = null) => new()
    {
        Inputs = parse.GetValue(Inputs)!, Field = parse.GetValue(Field)!, Split = parse.GetValue(Split)!, Context = parse.GetValue(Context),
        Stride = stride, MaxDocuments = parse.GetValue(MaxDocs), BatchSize = parse.GetValue(BatchSize),
    };
}
