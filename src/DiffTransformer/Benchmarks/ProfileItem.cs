using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffTransformer.Benchmarks;

/// <summary>One timed piece of a training step: forward+backward unless it says otherwise.</summary>
public sealed record ProfileItem(string Group, string Name, int PerStep)
{
    public ProfileItem(string group, ProfilePiece piece, int perStep) : this(group, ProfilePieces.Name(piece), perStep)
    {
    }

    /// <summary>Which piece this is (null for a row the report does not know by name).</summary>
    public ProfilePiece? Piece { get; } = ProfilePieces.Of(Name);

    public List<double> Seconds { get; } = [];
    public double Median => Stats.Median(Seconds);
}
