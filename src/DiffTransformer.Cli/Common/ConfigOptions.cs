using System.CommandLine;
using DiffTransformer.Model;

namespace DiffTransformer.Cli.Common;

/// <summary>The options that choose a model configuration: a preset (tiny unless told) or a JSON file, then overrides.</summary>
public sealed class ConfigOptions
{
    public const string DefaultPreset = "tiny";

    public Option<string> Preset { get; } = new("--preset", "-p")
    {
        Description = $"Named configuration: {string.Join(", ", Presets.Names)}.",
        HelpName = "name",
        DefaultValueFactory = _ => DefaultPreset,
    };

    public Option<FileInfo?> Config { get; } = new("--config", "-c")
    {
        Description = "Model configuration as JSON (snake_case fields, as in a checkpoint's config.json).",
        HelpName = "file.json",
    };

    public Option<string?> Arch { get; } = new("--arch")
    {
        Description = "Override the architecture: diff (differential attention), transformer (the parameter-matched baseline) or diff2 (DIFF V2: paired ordinary heads, A₂ᵢ − σ(λ(x))·A₂ᵢ₊₁, SwiGLU widened to match).",
        HelpName = "diff|transformer|diff2",
    };

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "Override any config field, e.g. --set num_layers=8 --set num_kv_heads=2 (repeatable).",
        HelpName = "key=value",
        AllowMultipleArgumentsPerToken = false,
    };

    public ConfigOptions()
    {
        Arch.AcceptOnlyFromAmong("diff", "transformer", "diff2");
    }

    public void AddTo(Command command)
    {
        command.Add(Preset);
        command.Add(Config);
        command.Add(Arch);
        command.Add(Set);
    }

    /// <summary>The configuration the options describe, with a human-readable name for it.</summary>
    public (ModelConfig Config, string Name) Resolve(ParseResult parse)
    {
        FileInfo? file = parse.GetValue(Config);
        if (parse.Given(Preset) && file is not null) throw new UsageException("give either --preset or --config, not both");
        ModelConfig config;
        string name;
        if (file is not null)
        {
            config = ModelConfig.Load(file.FullName);
            name = file.Name;
        }
        else
        {
            name = parse.GetValue(Preset)!;
            config = Presets.Get(name);
            name = $"preset {name}";
        }
        var overrides = new List<KeyValuePair<string, string>>();
        if (parse.GetValue(Arch) is string arch) overrides.Add(new("arch", arch));
        foreach (var kv in parse.GetValue(Set) ?? [])
        {
            int eq = kv.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--set expects key=value, got '{kv}'");
            overrides.Add(new(kv[..eq], kv[(eq + 1)..]));
        }
        if (overrides.Count > 0) config = config.WithOverrides(overrides);
        return (config, name);
    }
}
