using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffTransformer.Evaluation;

/// <summary>N needles in the context, R of them asked (the paper's N/R). In JSON the string "N/R".</summary>
[JsonConverter(typeof(NeedleSettingJsonConverter))]
public sealed record NeedleSetting(int Needles, int Asked)
{
    /// <summary>Parses "N/R", e.g. "4/2"; the message names the text at fault.</summary>
    public static NeedleSetting Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int r))
            throw new ArgumentException($"needle setting '{text}' is not N/R (e.g. 4/2)");
        if (n < 1 || r < 1 || r > n) throw new ArgumentException($"needle setting '{text}': need 1 ≤ R ≤ N");
        return new NeedleSetting(n, r);
    }

    public override string ToString() => $"{Needles}/{Asked}";

    /// <summary>The paper's Table 2 settings: 1/1, 2/2, 4/2, 6/2.</summary>
    public static IReadOnlyList<NeedleSetting> PaperTable2 { get; } = [new(1, 1), new(2, 2), new(4, 2), new(6, 2)];
}
