using System.Globalization;
using System.Text.Json;

namespace DiffTransformer.Data;

/// <summary>
/// A <c>--val-where</c> test on a JSONL field: <c>FIELD OP VALUE</c> with OP one of = (or ==) != &lt; &lt;= &gt; &gt;=,
/// e.g. <c>year&gt;=2000</c> or <c>party = "Whig"</c>. The comparison is numeric when both sides parse as numbers,
/// else ordinal on the strings. VALUE may be quoted with ' or ".
/// </summary>
public sealed record ValCondition(string Field, string Operator, string Value)
{
    private static readonly string[] Operators = [">=", "<=", "!=", "==", "=", "<", ">"];

    /// <summary>Parses <paramref name="expression"/>; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static ValCondition Parse(string expression)
    {
        int at = expression.IndexOfAny(['=', '!', '<', '>']);
        if (at < 0)
            throw new ArgumentException($"--val-where '{expression}': no comparison operator; expected FIELD OP VALUE with OP one of = != < <= > >=, e.g. year>=2000");
        string? op = Operators.FirstOrDefault(o => expression.AsSpan(at).StartsWith(o, StringComparison.Ordinal));   // two-character operators first
        if (op is null)
            throw new ArgumentException($"--val-where '{expression}': unknown operator at '{expression[at..]}'; operators: = != < <= > >=");
        string field = expression[..at].Trim();
        string value = expression[(at + op.Length)..].Trim();
        if (field.Length == 0) throw new ArgumentException($"--val-where '{expression}': missing field name before '{op}'");
        if (value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0]) value = value[1..^1];
        else if (value.Length == 0) throw new ArgumentException($"--val-where '{expression}': missing value after '{op}'");
        else if (value.IndexOfAny(['=', '!', '<', '>']) >= 0)
            throw new ArgumentException($"--val-where '{expression}': unexpected operator characters in the value '{value}'");
        return new ValCondition(field, op == "==" ? "=" : op, value);
    }

    /// <summary>Whether the document <paramref name="root"/> (from <paramref name="file"/>, line <paramref name="line"/>) belongs to val.</summary>
    public bool IsMatch(JsonElement root, string file, long line)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(Field, out var v))
            throw new InvalidDataException($"{file}:{line}: no field '{Field}' for --val-where {this}");
        string text = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => throw new InvalidDataException($"{file}:{line}: field '{Field}' is {v.ValueKind.ToString().ToLowerInvariant()}, which --val-where {this} cannot compare"),
        };
        int c = TryNumber(text, out double a) && TryNumber(Value, out double b) ? a.CompareTo(b) : string.CompareOrdinal(text, Value);
        return Operator switch
        {
            "=" => c == 0,
            "!=" => c != 0,
            "<" => c < 0,
            "<=" => c <= 0,
            ">" => c > 0,
            _ => c >= 0,
        };
    }

    private static bool TryNumber(string s, out double x) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out x) && double.IsFinite(x);

    public override string ToString() => $"{Field}{Operator}{Value}";
}
