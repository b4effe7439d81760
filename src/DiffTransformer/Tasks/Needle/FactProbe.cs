using System.Text.Json.Serialization;

namespace DiffTransformer.Tasks.Needle;

/// <summary>The three kinds of question of <c>eval faithfulness</c> (docs/EVALUATION.md).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FactProbe>))]
public enum FactProbe
{
    /// <summary>A fixed fact, stated in the context with another value: following the context is faithful, the memorised value a hallucination.</summary>
    [JsonStringEnumMemberName("counterfactual")] Counterfactual,
    /// <summary>A fixed fact the context does not state: only memory can answer (did the model learn the fact?).</summary>
    [JsonStringEnumMemberName("closed_book")] ClosedBook,
    /// <summary>An ordinary needle's key (as in eval needle): retrieval without a competing memory.</summary>
    [JsonStringEnumMemberName("open_book")] OpenBook,
}
