namespace DiffTransformer.Training;

/// <summary>Shape of the learning-rate decay after warm-up.</summary>
public enum DecayShape
{
    Cosine,
    Linear,
    Constant,
}
