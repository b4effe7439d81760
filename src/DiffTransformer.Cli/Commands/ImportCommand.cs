using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Interop;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft import</c>: a Hugging Face DiffLlama checkpoint directory → one of our model directories (<see cref="DiffLlamaImport"/>).</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var cmd = new Command("import",
            "Import a Hugging Face DiffLlama checkpoint (config.json with model_type diffllama, model.safetensors or shards with " +
            "model.safetensors.index.json; F32, BF16 or F16) into a model directory, exactly (reference/DIFFLLAMA.md). " +
            "Checkpoints we cannot represent (rope scaling, biases, odd num_key_value_heads, …) are refused. The tokenizer is not imported.");
        var input = new Argument<string>("dir") { Description = "The Hugging Face checkpoint directory." };
        var output = new Option<string>("--out", "-o") { Description = "Model directory to create (must not exist or be empty).", HelpName = "dir", Required = true };
        cmd.Add(input);
        cmd.Add(output);
        CliAction.Set(cmd, parse =>
        {
            string outDir = parse.GetValue(output)!;
            var (config, notes) = DiffLlamaImport.Import(parse.GetValue(input)!, outDir);
            parse.Stdout().WriteLine($"imported {parse.GetValue(input)} into {outDir}: {ParameterLayout.Count(config):N0} parameters, E {config.EmbedDim}, " +
                                     $"L {config.NumLayers}, H {config.NumHeads}, Hkv {config.KvHeads}, vocab {config.VocabSize}, max_seq_len {config.MaxSeqLen}");
            foreach (var note in notes) parse.Stderr().WriteLine("note: " + note);
            return CliAction.Ok;
        });
        return cmd;
    }
}
