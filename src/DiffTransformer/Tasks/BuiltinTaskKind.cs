namespace DiffTransformer.Tasks;

/// <summary>The built-in training tasks of <c>difft train</c> and <c>difft compare</c> without <c>--data</c>.</summary>
public enum BuiltinTaskKind
{
    /// <summary>Synthetic key→value recall among distractors (<see cref="Recall.RecallTaskGenerator"/>).</summary>
    Recall,

    /// <summary>Needles in real or generated text, asked at the end (<see cref="Needle.NeedleBuilder.TrainingDocument"/>).</summary>
    Needle,

    /// <summary>The needle task with fixed facts to memorise, some overridden by the context (<see cref="Needle.NeedleBuilder.FactDocument"/>).</summary>
    Facts,

    /// <summary>In-context classification episodes of labelled examples under random label names (<see cref="Icl.IclEpisodes.TrainingDocument"/>).</summary>
    Icl,
}
