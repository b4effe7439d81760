using DiffTransformer.IO;
using DiffTransformer.Model;

namespace DiffTransformer.Study;

/// <summary>
/// A unit's record, <c>&lt;results&gt;/&lt;experiment&gt;/seed-&lt;s&gt;/unit.json</c>: the small figures the report is built
/// from, so that a study resumes from its results alone (committed, say) even when the run directories are gone.
/// </summary>
public sealed record StudyRecord
{
    public required string Experiment { get; init; }
    public required long Seed { get; init; }

    /// <summary><see cref="StudyUnit.TrainHash"/> of the pair the figures belong to.</summary>
    public required string TrainHash { get; init; }

    /// <summary>diff and transformer, in that order.</summary>
    public required IReadOnlyList<StudyRunFigures> Runs { get; init; }

    /// <summary>Suites done on the pair, in the plan's order.</summary>
    public IReadOnlyList<StudyEvalFigures> Evals { get; init; } = [];

    public const string FileName = "unit.json";

    /// <summary>The record in <paramref name="dir"/>, or null when there is none; a damaged one is refused by name.</summary>
    public static StudyRecord? Read(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<StudyRecord>(File.ReadAllText(path), Evaluation.EvalReport.JsonOptions)
                   ?? throw new System.Text.Json.JsonException("null");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}: not a study unit record ({e.Message}); delete it to run the unit again", e);
        }
    }

    public void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, FileName), System.Text.Json.JsonSerializer.Serialize(this, Evaluation.EvalReport.JsonOptions) + "\n");
    }
}
