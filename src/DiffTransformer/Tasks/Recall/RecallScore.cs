namespace DiffTransformer.Tasks.Recall;

/// <summary>
/// Recall accuracy over a set of documents: a query counts as correct when every character of its answer is the
/// greedy (argmax) prediction under teacher forcing; characters are also counted one by one, and their cross-entropy
/// summed, which moves smoothly long before the accuracy does.
/// </summary>
public sealed record RecallScore(int Documents, int Queries, int CorrectQueries, int Characters, int CorrectCharacters, double AnswerLossSum)
{
    public static RecallScore Empty { get; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>Fraction of queries answered exactly (0 when there are none).</summary>
    public double Accuracy => Queries == 0 ? 0 : (double)CorrectQueries / Queries;

    /// <summary>Fraction of answer characters predicted correctly (0 when there are none).</summary>
    public double CharacterAccuracy => Characters == 0 ? 0 : (double)CorrectCharacters / Characters;

    /// <summary>Mean cross-entropy (nats) of the answer characters; ln |value alphabet| is chance, 0 perfect recall.</summary>
    public double AnswerLoss => Characters == 0 ? 0 : AnswerLossSum / Characters;

    public static RecallScore operator +(RecallScore a, RecallScore b) =>
        new(a.Documents + b.Documents, a.Queries + b.Queries, a.CorrectQueries + b.CorrectQueries, a.Characters + b.Characters,
            a.CorrectCharacters + b.CorrectCharacters, a.AnswerLossSum + b.AnswerLossSum);

    public override string ToString() =>
        $"recall {Accuracy:F3} ({CorrectQueries}/{Queries} queries), per character {CharacterAccuracy:F3} ({CorrectCharacters}/{Characters}), answer loss {AnswerLoss:F3}, {Documents} documents";
}
