using System.Text.Json.Serialization;

namespace DiffTransformer.Tasks.Needle;

/// <summary>What a model answered to a question about a fixed fact (docs/EVALUATION.md, eval faithfulness).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FactAnswerClass>))]
public enum FactAnswerClass
{
    /// <summary>The value the context states for the asked key.</summary>
    [JsonStringEnumMemberName("context")] Context,
    /// <summary>The fact's memorised value, which the context does not state for it (a hallucination when the context states another).</summary>
    [JsonStringEnumMemberName("memory")] Memory,
    /// <summary>Another needle's value.</summary>
    [JsonStringEnumMemberName("misattributed")] Misattributed,
    /// <summary>A number of the haystack text.</summary>
    [JsonStringEnumMemberName("from_haystack")] FromHaystack,
    /// <summary>A number found neither in the context nor in memory.</summary>
    [JsonStringEnumMemberName("unsupported")] Unsupported,
    /// <summary>No number at all.</summary>
    [JsonStringEnumMemberName("no_number")] NoNumber,
}
