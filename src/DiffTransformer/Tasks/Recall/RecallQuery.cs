namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// One query "key?value" after the context: <see cref="PairIndex"/> is the pair of the context it asks for,
/// <see cref="AnswerSpan"/> the characters of the value the model must copy from that pair.
/// </summary>
public sealed record RecallQuery(int PairIndex, IndexSpan KeySpan, IndexSpan AnswerSpan);
