using static TorchSharp.torch;

namespace DiffTransformer.Model;

/// <summary>
/// What the explicit kernel computes besides the core's output: the masked logits q·kᵀ/√d and the softmax maps,
/// (B, 2H, T, S) each, and for DIFF the differential map A1 − λ·A2, (B, H, T, S). The tensors live in the caller's
/// dispose scope.
/// </summary>
public readonly record struct ExplicitAttention(Tensor Output, Tensor Logits, Tensor Probs, Tensor? Differential);
