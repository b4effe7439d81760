using System.Text.Json.Serialization;

namespace DiffTransformer.Tasks.Needle;

/// <summary>What a model's answer to a needle question was (docs/EVALUATION.md).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AnswerClass>))]
public enum AnswerClass
{
    /// <summary>The asked needle's number.</summary>
    [JsonStringEnumMemberName("correct")] Correct,
    /// <summary>Another needle's number.</summary>
    [JsonStringEnumMemberName("misattributed")] Misattributed,
    /// <summary>A number that stands in the haystack text (not a needle's).</summary>
    [JsonStringEnumMemberName("from_haystack")] FromHaystack,
    /// <summary>A number that appears nowhere in the context: the proxy for a hallucination.</summary>
    [JsonStringEnumMemberName("unsupported")] Unsupported,
    /// <summary>No number at all.</summary>
    [JsonStringEnumMemberName("no_number")] NoNumber,
}
