using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffTransformer.IO;

namespace DiffTransformer.Evaluation;

/// <summary>
/// The files every suite writes into its output directory: <c>&lt;suite&gt;.json</c> (command line, models with their
/// configs, options, every figure) and <c>&lt;suite&gt;.md</c> (the tables); plots are written by the suite beside them.
/// </summary>
public static class EvalReport
{
    /// <summary>The project's JSON options (<see cref="Json.Options"/>), allowing NaN for figures of empty cells.</summary>
    internal static readonly JsonSerializerOptions JsonOptions = new(Json.Options) { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Writes both files atomically and returns their paths.</summary>
    public static (string Json, string Markdown) Write<TOptions, TResults>(string outDir, string suite, string commandLine,
        IReadOnlyList<EvalModelInfo> models, TOptions options, TResults results, string tables)
    {
        Directory.CreateDirectory(outDir);
        var json = new JsonObject
        {
            ["suite"] = suite,
            ["command_line"] = commandLine,
            ["created_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["models"] = JsonSerializer.SerializeToNode(models, JsonOptions),
            ["options"] = JsonSerializer.SerializeToNode(options, JsonOptions),
            ["results"] = JsonSerializer.SerializeToNode(results, JsonOptions),
        };
        string jsonPath = Path.Combine(outDir, suite + ".json");
        string mdPath = Path.Combine(outDir, suite + ".md");
        AtomicFile.WriteAllText(jsonPath, json.ToJsonString(JsonOptions) + "\n");
        AtomicFile.WriteAllText(mdPath, Markdown(suite, commandLine, models, tables));
        return (jsonPath, mdPath);
    }

    /// <summary>The markdown file: a heading, the command, the models, then the suite's tables.</summary>
    public static string Markdown(string suite, string commandLine, IReadOnlyList<EvalModelInfo> models, string tables)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# difft eval {suite}").AppendLine();
        sb.AppendLine("```").AppendLine(commandLine).AppendLine("```").AppendLine();
        sb.AppendLine("| model | architecture | parameters | tokenizer | context | path |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var m in models)
            sb.AppendLine($"| {m.Label} | {m.Arch.ToString().ToLowerInvariant()} | {m.Parameters:N0} | {m.Tokenizer} | {m.Config.MaxSeqLen} | `{m.Path}` |");
        sb.AppendLine().Append(tables);
        return sb.ToString();
    }

    /// <summary>A markdown table: one header row, one row per entry.</summary>
    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select((_, i) => i == 0 ? "---|" : "---:|")));
        foreach (var r in rows) sb.AppendLine("| " + string.Join(" | ", r) + " |");
        return sb.ToString();
    }
}
