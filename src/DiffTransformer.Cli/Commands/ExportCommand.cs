using System.CommandLine;
using System.Globalization;
using DiffTransformer.Cli.Common;
using DiffTransformer.Interop;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft export</c>: one of our DIFF V1 models → a Hugging Face DiffLlama checkpoint directory (<see cref="DiffLlamaExport"/>).</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var cmd = new Command("export",
            "Export a DIFF V1 model (arch diff) as a Hugging Face DiffLlama checkpoint (config.json, model.safetensors or shards with " +
            "model.safetensors.index.json, tokenizer.json) that transformers' DiffLlamaForCausalLM loads unchanged; a learnt per-head norm " +
            "is folded into o_proj (reference/DIFFLLAMA.md). `difft import` reads it back.");
        var input = new Argument<string>("model") { Description = "The model: a model directory, its weights file, or a completed run directory." };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint directory to create (must not exist or be empty).", HelpName = "dir", Required = true };
        var shard = new Option<string>("--max-shard-size")
        {
            Description = "Largest shard, in bytes of tensor data: a number with an optional KB, MB or GB (powers of 1000, as save_pretrained reads them).",
            DefaultValueFactory = _ => "5GB",
            HelpName = "size",
        };
        var dtype = new Option<string>("--dtype") { Description = "Stored dtype (bfloat16 and float16 round the float32 weights).", DefaultValueFactory = _ => "float32" };
        dtype.AcceptOnlyFromAmong([.. DiffLlamaExport.DTypes]);
        cmd.Add(input);
        cmd.Add(output);
        cmd.Add(shard);
        cmd.Add(dtype);
        CliAction.Set(cmd, parse =>
        {
            string outDir = parse.GetValue(output)!;
            long limit = ParseSize(parse.GetValue(shard)!);
            var result = DiffLlamaExport.Export(parse.GetValue(input)!, outDir, limit, parse.GetValue(dtype)!);
            parse.Stdout().WriteLine($"exported {parse.GetValue(input)} to {outDir}: {result.TensorBytes:N0} bytes of {parse.GetValue(dtype)} tensors; " +
                                     string.Join(", ", result.Files));
            foreach (var note in result.Notes) parse.Stderr().WriteLine("note: " + note);
            return CliAction.Ok;
        });
        return cmd;
    }

    /// <summary>"5GB", "200MB", "64KB" or a plain byte count (save_pretrained's decimal units).</summary>
    internal static long ParseSize(string text)
    {
        string t = text.Trim().ToUpperInvariant();
        long unit = 1;
        foreach (var (suffix, factor) in new[] { ("GB", 1_000_000_000L), ("MB", 1_000_000L), ("KB", 1_000L), ("B", 1L) })
            if (t.EndsWith(suffix, StringComparison.Ordinal))
            {
                unit = factor;
                t = t[..^suffix.Length].Trim();
                break;
            }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || !(n > 0) || n * unit > long.MaxValue)
            throw new ArgumentException($"--max-shard-size \"{text}\" is not a positive size (e.g. 5GB, 200MB, 1000000)");
        return (long)(n * unit);
    }
}
