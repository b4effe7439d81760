using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffTransformer.Evaluation;
using DiffTransformer.IO;
using DiffTransformer.Model;
using DiffTransformer.Training;

namespace DiffTransformer.Study;

/// <summary>
/// One experiment at one seed: DIFF and the Transformer trained the same way, then the experiment's suites on the pair.
/// The unit of resumption: its record (unit.json in the results) holds the training's figures under <see cref="TrainHash"/>
/// and each suite's under <see cref="EvalHash"/>; what the record holds under the same hashes is not run again.
/// </summary>
public sealed record StudyUnit(StudyPlan Plan, StudyExperiment Experiment, long Seed, ModelConfig Model, string TrainHash)
{
    /// <summary>"needle/seed-1": the unit's folder under the study's output and results directories.</summary>
    public string Id => $"{Experiment.Name}/seed-{Seed}";

    private static readonly string[] StudyOwned = ["model", "out", "seed", "data"];

    /// <summary>The unit of <paramref name="experiment"/> at <paramref name="seed"/>; its model resolved from the preset and overrides.</summary>
    public static StudyUnit Resolve(StudyPlan plan, StudyExperiment experiment, long seed)
    {
        var preset = Presets.Get(experiment.Preset);
        var model = EvalSuite.Overlay(preset, experiment.Model, "model");
        if (experiment.Model?.ContainsKey("arch") == true) throw new ArgumentException("model.arch is the study's: every unit trains both architectures");
        foreach (var key in StudyOwned)
            if (experiment.Train?.ContainsKey(key) == true)
                throw new ArgumentException($"train.{key} is the study's (model: preset and model; out: --out; seed: seeds; data: the experiment's data)");
        // what decides the trained pair: the model, the dataset's declaration, the training options and the seed (not the
        // experiment's name, claims, group, other seeds or suites, so that adding a seed or a suite reruns nothing else)
        var identity = new JsonObject
        {
            ["preset"] = experiment.Preset,
            ["model"] = experiment.Model?.DeepClone(),
            ["data"] = experiment.Data is { } d ? plan.Data[d].DeepClone() : null,
            ["train"] = Identity(experiment.Train),
            ["seed"] = seed,
        };
        return new StudyUnit(plan, experiment, seed, model, Hash(identity));
    }

    // how often a run checkpoints, how many it keeps and which exact kernel computes it do not change what it learns
    // (Comparison reuses a finished run across them too): changing them must not discard finished units
    private static readonly string[] Cosmetic = ["checkpoint_interval", "keep_checkpoints", "kernel"];

    private static JsonObject? Identity(JsonObject? train)
    {
        if (train is null) return null;
        var copy = train.DeepClone().AsObject();
        foreach (var key in Cosmetic) copy.Remove(key);
        return copy;
    }

    /// <summary>What decides a suite's figures on the trained pair: the pair, the suite and its options as declared.</summary>
    public string EvalHash(string suite) =>
        Hash(new JsonObject { ["train"] = TrainHash, ["suite"] = suite, ["options"] = Experiment.Evals.GetValueOrDefault(suite)?.DeepClone() });

    /// <summary>Whether <paramref name="figures"/> are of this unit's pair and of the plan's declaration of their suite.</summary>
    public bool Current(StudyEvalFigures figures) => Experiment.Evals.ContainsKey(figures.Suite) && figures.Hash == EvalHash(figures.Suite);

    private static string Hash(JsonObject identity) => Hash(identity.ToJsonString());

    /// <summary>The study's identities and stamps: the first 16 hex digits of the SHA-256 of <paramref name="text"/>.</summary>
    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    /// <summary>The training options of both sub-runs (the comparison sets the architecture) on <paramref name="data"/>.</summary>
    public TrainOptions Train(string data, string? outDir = null)
    {
        var defaults = new TrainOptions();
        var overlay = Plan.ResolvePaths(Experiment.Train, null);
        var options = EvalSuite.Overlay(defaults, overlay, "train");
        return options with { Model = Model, Seed = Seed, Data = data, Out = outDir ?? defaults.Out };
    }

    /// <summary>Every suite of the experiment with its options, the held-out defaults read from <paramref name="data"/>.</summary>
    public IReadOnlyList<(EvalSuite Suite, object Options)> Evals(string data) =>
        Experiment.Evals.Select(kv =>
        {
            var suite = EvalSuites.Get(kv.Key);
            return (suite, suite.Options(data, Plan.ResolvePaths(kv.Value, data)));
        }).ToList();
}
