using System.Text.Json.Nodes;

namespace DiffTransformer.Study;

/// <summary>One experiment of a <see cref="StudyPlan"/>.</summary>
public sealed record StudyExperiment
{
    public required string Name { get; init; }

    /// <summary>Experiments of one group differ in size only: the report compares their losses against the parameters.</summary>
    public string? Group { get; init; }

    /// <summary>
    /// Experiments of one tuning set are alternatives of one setting (e.g. learning rates): the report compares each
    /// architecture at its own best member (lowest mean final validation loss), so that a conclusion does not rest on one
    /// choice that suits one architecture.
    /// </summary>
    public string? Tuning { get; init; }

    /// <summary>The paper's claims this experiment bears on (free text for the report, e.g. "retrieval").</summary>
    public IReadOnlyList<string> Claims { get; init; } = [];

    /// <summary>The preset the model starts from.</summary>
    public string Preset { get; init; } = "tiny";

    /// <summary>Fields of the preset's configuration to override (snake_case, as in config.json); arch is the study's.</summary>
    public JsonObject? Model { get; init; }

    /// <summary>A dataset of the plan's <see cref="StudyPlan.Data"/>; null trains on the built-in task of <see cref="Train"/>.</summary>
    public string? Data { get; init; }

    /// <summary>Training options (snake_case, as in run.json) over the defaults of <c>difft train</c>; model, out, seed and data are the study's.</summary>
    public JsonObject? Train { get; init; }

    /// <summary>Seeds in place of the plan's.</summary>
    public IReadOnlyList<long>? Seeds { get; init; }

    /// <summary>Suites to run on the trained pair, by name, each with options over the suite's defaults (an empty object: the defaults).</summary>
    public IReadOnlyDictionary<string, JsonObject?> Evals { get; init; } = new Dictionary<string, JsonObject?>();
}
