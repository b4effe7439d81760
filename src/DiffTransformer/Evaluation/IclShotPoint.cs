namespace DiffTransformer.Evaluation;

/// <summary>One model at one number of demonstrations: the queries asked over all sets, those classified right, and per set.</summary>
public sealed record IclShotPoint(int Shots, int Queries, int Correct, IReadOnlyList<int> CorrectPerSet)
{
    public double Accuracy => (double)Correct / Queries;
}
