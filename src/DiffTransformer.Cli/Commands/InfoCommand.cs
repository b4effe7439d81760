using System.CommandLine;
using DiffTransformer.Cli.Common;
using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Commands;

/// <summary><c>difft info</c>: the layer table and exact parameter count of a configuration, without allocating weights.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Print a model's layer table and exact parameter count (arithmetic: no weights are allocated, so the 13B preset is instant).");
        var options = new ConfigOptions();
        options.AddTo(cmd);
        var model = new Option<string?>("--model", "-m")
        {
            Description = "Describe a saved model instead (its directory or model.safetensors).",
            HelpName = "path",
        };
        var list = new Option<bool>("--list") { Description = "List the presets with their sizes." };
        var json = new Option<bool>("--json") { Description = "Print the configuration as JSON (for --config) instead of the table." };
        cmd.Add(model);
        cmd.Add(list);
        cmd.Add(json);
        CliAction.Set(cmd, parse =>
        {
            var stdout = parse.Stdout();
            if (parse.GetValue(list))
            {
                foreach (var name in Presets.Names)
                {
                    var c = Presets.Get(name);
                    stdout.WriteLine($"{name,-8} {ParameterLayout.CountEmbeddingOnce(c),16:N0} parameters (embedding once)   E {c.EmbedDim,5}  L {c.NumLayers,3}  H {c.NumHeads,3}  vocab {c.VocabSize,7}   {Presets.Describe(name)}");
                }
                return CliAction.Ok;
            }
            ModelConfig config;
            string title;
            if (parse.GetValue(model) is string path)
            {
                config = ModelStore.LoadConfig(path);
                title = path;
            }
            else
            {
                (config, title) = options.Resolve(parse);
            }
            stdout.Write(parse.GetValue(json) ? config.ToJson() + "\n" : ModelSummary.Describe(config, title));
            return CliAction.Ok;
        });
        return cmd;
    }
}
