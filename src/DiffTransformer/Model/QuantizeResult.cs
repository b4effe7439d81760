namespace DiffTransformer.Model;

/// <summary>
/// What <see cref="WeightQuantization.ToInt8"/> wrote: the int8 configuration, how many projections it quantised, their
/// weight bytes before (float32; a tied head's int8 copy had none) and after (int8 plus the scales), and the largest rounding error of a weight in units
/// of its channel's scale (at most 0.5 when every weight was rounded to the nearest step).
/// </summary>
public sealed record QuantizeResult(ModelConfig Config, int Projections, long FloatBytes, long Int8Bytes, double WorstErrorInSteps);
