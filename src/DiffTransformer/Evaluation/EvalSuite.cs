using System.Text.Json;
using System.Text.Json.Nodes;
using DiffTransformer.IO;

namespace DiffTransformer.Evaluation;

/// <summary>
/// One evaluation suite as a value: its name, its options (defaults, and a JSON overlay on them, as a study plan gives
/// them), how it runs on loaded models, and what it writes. <c>difft eval &lt;suite&gt;</c> and <c>difft study</c> both
/// run suites through this, so the files, plots and headline figures of a suite are the same whichever verb ran it.
/// </summary>
public abstract class EvalSuite
{
    /// <summary>The suite's name: <c>lm</c>, <c>needle</c>, … (the verb <c>difft eval &lt;name&gt;</c>).</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The suite's options: its defaults when the models were trained on <paramref name="data"/> (a dataset directory,
    /// the default held-out text of lm, outliers and quant, and the facts of faithfulness), with <paramref name="overlay"/>'s
    /// members put over them (snake_case names as in the JSON report; unknown members are refused, the message names them).
    /// </summary>
    public abstract object Options(string? data, JsonObject? overlay);

    /// <summary>Runs the suite with <paramref name="options"/> (of this suite's options type) on <paramref name="models"/>.</summary>
    public abstract EvalSuiteOutput Run(IReadOnlyList<EvalModel> models, object options, IProgress<string>? progress = null, CancellationToken cancel = default);

    /// <summary>A suite from its functions.</summary>
    public static EvalSuite Of<TOptions, TResult>(string name, Func<string?, TOptions> defaults,
        Func<IReadOnlyList<EvalModel>, TOptions, IProgress<string>?, CancellationToken, TResult> run, Func<TResult, string> markdown,
        Func<TResult, IReadOnlyList<IReadOnlyDictionary<string, double>>> headlines, Action<string, TResult> plots)
        where TOptions : notnull where TResult : notnull =>
        new Typed<TOptions, TResult>(name, defaults, run, markdown, headlines, plots);

    /// <summary><paramref name="defaults"/> with <paramref name="overlay"/>'s members put over them (objects merged member by member).</summary>
    public static T Overlay<T>(T defaults, JsonObject? overlay, string what)
    {
        if (overlay is null || overlay.Count == 0) return defaults;
        var node = JsonSerializer.SerializeToNode(defaults, EvalReport.JsonOptions)!.AsObject();
        Merge(node, overlay);
        try
        {
            return node.Deserialize<T>(EvalReport.JsonOptions) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{what}: {Unwrap(e.Message)}", e);
        }
    }

    /// <summary>Puts <paramref name="overlay"/>'s members into <paramref name="target"/>, merging nested objects.</summary>
    public static void Merge(JsonObject target, JsonObject overlay)
    {
        foreach (var (key, value) in overlay)
        {
            if (value is JsonObject o && target[key] is JsonObject t) Merge(t, o);
            else target[key] = value?.DeepClone();
        }
    }

    // System.Text.Json says "The JSON property 'stepz' could not be mapped to any .NET member contained in type …";
    // the type's full name means nothing to a plan's author, the property's name does
    private static string Unwrap(string message)
    {
        int i = message.IndexOf(" contained in type", StringComparison.Ordinal);
        return i < 0 ? message : message[..i] + " (unknown field)";
    }

    private sealed class Typed<TOptions, TResult>(string name, Func<string?, TOptions> defaults,
        Func<IReadOnlyList<EvalModel>, TOptions, IProgress<string>?, CancellationToken, TResult> run, Func<TResult, string> markdown,
        Func<TResult, IReadOnlyList<IReadOnlyDictionary<string, double>>> headlines, Action<string, TResult> plots) : EvalSuite
        where TOptions : notnull where TResult : notnull
    {
        public override string Name => name;

        public override object Options(string? data, JsonObject? overlay) => Overlay(defaults(data), overlay, $"eval {name} options");

        public override EvalSuiteOutput Run(IReadOnlyList<EvalModel> models, object options, IProgress<string>? progress = null, CancellationToken cancel = default)
        {
            if (options is not TOptions o)
                throw new ArgumentException($"eval {name} takes {typeof(TOptions).Name}, not {options.GetType().Name}");
            var r = run(models, o, progress, cancel);
            return new EvalSuiteOutput(name, models.Select(m => m.Info).ToList(), o, r, markdown(r), headlines(r), dir => plots(dir, r));
        }
    }
}
