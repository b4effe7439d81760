using System.Text.RegularExpressions;

namespace DiffTransformer.Tasks.Needle;

/// <summary>Reading and classifying the answer a model generated after a needle question.</summary>
public static partial class NeedleAnswers
{
    /// <summary>The answer: the first run of ASCII digits in the generated text before its first line break; null when there is none.</summary>
    public static string? Extract(string generated)
    {
        int nl = generated.IndexOf('\n');
        var m = Digits().Match(nl < 0 ? generated : generated[..nl]);
        return m.Success ? m.Value : null;
    }

    /// <summary>
    /// Classifies <paramref name="generated"/>: the asked needle's value (correct), another needle's (misattributed), a
    /// number standing as a whole digit run in <paramref name="context"/> (from the haystack), any other number
    /// (unsupported), or none. Numbers compare as digit strings.
    /// </summary>
    public static AnswerClass Classify(string generated, string asked, IEnumerable<string> otherNeedles, string context)
    {
        string? answer = Extract(generated);
        if (answer is null) return AnswerClass.NoNumber;
        if (answer == asked) return AnswerClass.Correct;
        if (otherNeedles.Contains(answer, StringComparer.Ordinal)) return AnswerClass.Misattributed;
        foreach (Match m in Digits().Matches(context))
            if (m.Value == answer) return AnswerClass.FromHaystack;
        return AnswerClass.Unsupported;
    }

    /// <summary>
    /// Classifies the answer to a fact question: the value the context states for the asked key (context), the fact's
    /// memorised value (memory), another needle's value, a number of the context, any other number, or none. The context
    /// is checked first: a counterfactual value never equals the memorised one.
    /// </summary>
    public static FactAnswerClass ClassifyFact(string generated, string? contextValue, string? memorised, IEnumerable<string> otherNeedles, string context)
    {
        string? answer = Extract(generated);
        if (answer is null) return FactAnswerClass.NoNumber;
        if (answer == contextValue) return FactAnswerClass.Context;
        if (answer == memorised) return FactAnswerClass.Memory;
        if (otherNeedles.Contains(answer, StringComparer.Ordinal)) return FactAnswerClass.Misattributed;
        foreach (Match m in Digits().Matches(context))
            if (m.Value == answer) return FactAnswerClass.FromHaystack;
        return FactAnswerClass.Unsupported;
    }

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();
}
