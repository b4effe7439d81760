using System.Globalization;

namespace DiffTransformer.Study;

/// <summary>The state of every unit and the estimated time left.</summary>
public sealed record StudyStatus(string Plan, IReadOnlyList<StudyUnitStatus> Units)
{
    public int Done => Units.Count(u => u.State == "done");

    /// <summary>Null when a unit's time cannot be estimated yet (nothing comparable is done).</summary>
    public double? MinutesLeft => Units.Where(u => u.State != "done").Aggregate((double?)0, (sum, u) => sum + u.MinutesLeft);

    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"study {Plan}: {Done} of {Units.Count} units done");
        int w = Units.Max(u => u.Id.Length);
        foreach (var u in Units)
            sb.AppendLine($"  {u.Id.PadRight(w)}  {u.State}" + (u.MinutesLeft is double m ? $"  (~{m.ToString("F0", inv)} min left)" : u.State == "done" ? "" : "  (time unknown yet)"));
        sb.AppendLine(MinutesLeft is double total
            ? $"estimated time left: {(total / 60).ToString("F1", inv)} h ({total.ToString("F0", inv)} min; from the speed of the units done on this machine)"
            : "estimated time left: unknown until a unit is done (a unit's speed is the estimate of the others)");
        return sb.ToString();
    }
}
