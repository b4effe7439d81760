namespace DiffTransformer.Training;

/// <summary>
/// Linear warm-up from 0 to the peak over <c>warmup</c> steps, then cosine or linear decay to
/// <c>minLr</c> at <c>totalSteps</c> (the paper's 3B run: 1000 warm-up steps, linear decay to 4% of the peak).
/// Step indices count from 0; the rate of step s is applied by the optimizer update of step s.
/// </summary>
public sealed record LrSchedule(double PeakLr, double MinLr, long WarmupSteps, long TotalSteps, DecayShape Shape)
{
    public double At(long step)
    {
        if (step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        if (Shape == DecayShape.Constant || TotalSteps <= WarmupSteps) return PeakLr;
        double progress = Math.Clamp((double)(step - WarmupSteps) / Math.Max(1, TotalSteps - 1 - WarmupSteps), 0.0, 1.0);
        double factor = Shape == DecayShape.Cosine ? 0.5 * (1.0 + Math.Cos(Math.PI * progress)) : 1.0 - progress;
        return MinLr + (PeakLr - MinLr) * factor;
    }
}
