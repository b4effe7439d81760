using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft quantize</c>: a float32 model → an int8 weight-only copy (<see cref="WeightQuantization"/>).</summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var cmd = new Command("quantize",
            "Write an int8 copy of a model for inference: every linear layer's weight as int8 with one float32 scale per output channel " +
            "(symmetric, round to nearest), run by C# SIMD kernels; the embedding and norms stay float32. generate, serve, eval and the " +
            "library load the result like any model directory (config.json says \"weights\": \"int8\").");
        var input = new Argument<string>("model") { Description = "The float32 model: a model directory, its weights file, or a completed run directory." };
        var output = new Option<string>("--out", "-o") { Description = "Model directory to create (must not exist or be empty).", HelpName = "dir", Required = true };
        cmd.Add(input);
        cmd.Add(output);
        CliAction.Set(cmd, parse =>
        {
            string outDir = parse.GetValue(output)!;
            var r = WeightQuantization.ToInt8(parse.GetValue(input)!, outDir);
            parse.Stdout().WriteLine($"quantized {parse.GetValue(input)} into {outDir}: {r.Projections} linear layers, {r.FloatBytes:N0} → {r.Int8Bytes:N0} bytes " +
                                     $"({(double)r.Int8Bytes / r.FloatBytes:P1}); largest rounding error {r.WorstErrorInSteps:F3} of a step");
            return CliAction.Ok;
        });
        return cmd;
    }
}
