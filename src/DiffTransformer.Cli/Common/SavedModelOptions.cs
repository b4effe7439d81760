using System.CommandLine;
using DiffTransformer.Data;
using DiffTransformer.Inference;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Common;

/// <summary>The saved model to run (--model) and, for one saved without tokenizer.json, its tokenizer (--tokenizer).</summary>
public sealed class SavedModelOptions
{
    public Option<string> Model { get; } = new("--model", "-m")
    {
        Description = "The saved model: a directory with model.safetensors, config.json and tokenizer.json (what train writes).",
        HelpName = "dir",
        Required = true,
    };

    public Option<string?> Tokenizer { get; } = new("--tokenizer")
    {
        Description = $"Tokenizer for a model saved without tokenizer.json ({string.Join(", ", Tokenizers.Names)}).",
        HelpName = "name",
    };

    public void AddTo(Command command)
    {
        command.Add(Model);
        command.Add(Tokenizer);
    }

    /// <summary>The model directory as given.</summary>
    public string Path(ParseResult parse) => parse.GetValue(Model)!;

    public TextGenerator Load(ParseResult parse, AttentionKernel kernel) => TextGenerator.Load(Path(parse), parse.GetValue(Tokenizer), kernel);
}
