namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// Where one query's pieces sit in the model input (<see cref="RecallEvaluator.InputTokens"/>: end-of-text, then the
/// document), for an attention-allocation analysis: the share of attention from <see cref="AnswerPositions"/> onto
/// <see cref="QueriedPair"/> versus <see cref="DistractorPairs"/> and the rest of <see cref="Context"/>.
/// All spans are token indices of the input.
/// </summary>
/// <param name="AnswerPositions">Positions whose next-token prediction is an answer character: the "?" and all but the last answer character.</param>
/// <param name="Answer">The answer characters themselves (each the target of the position before it).</param>
/// <param name="QueriedKey">The queried key's occurrence in the context.</param>
/// <param name="QueriedValue">The value paired with it in the context (what must be copied).</param>
/// <param name="QueriedPair">The whole "key=value" of the queried pair.</param>
/// <param name="DistractorPairs">Every other pair of the context, in text order.</param>
/// <param name="NearMissPairs">The distractors whose key differs from the queried key in one character (a subset of <paramref name="DistractorPairs"/>).</param>
/// <param name="Context">The whole context (pairs and filler), before " | ".</param>
/// <param name="Depth">Where the queried pair sits among the pairs, 0 (first) to 1 (last).</param>
public sealed record RecallQueryLayout(
    int Query,
    IndexSpan AnswerPositions,
    IndexSpan Answer,
    IndexSpan QueriedKey,
    IndexSpan QueriedValue,
    IndexSpan QueriedPair,
    IReadOnlyList<IndexSpan> DistractorPairs,
    IReadOnlyList<IndexSpan> NearMissPairs,
    IndexSpan Context,
    double Depth);
