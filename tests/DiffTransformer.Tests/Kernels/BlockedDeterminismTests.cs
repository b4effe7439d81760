using DiffTransformer.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffTransformer.Tests.Kernels;

/// <summary>
/// The blocked kernel gives the same bits whoever runs which piece of work: its gradients (and output) with the
/// backward's work handed out in reverse order, and with 1, 2 or 3 workers, equal those of a 2-worker run exactly.
/// The class runs alone because the schedule and worker count are process-wide test switches.
/// </summary>
[Collection("serial")]
public sealed class BlockedDeterminismTests(ITestOutputHelper log)
{
    public static TheoryData<int, int, int, int, int, int, int> Cases() => new()
    {
        // maps, B, T, S, H, Hkv, d
        { 2, 2, 130, 130, 2, 2, 16 },    // 3 query blocks into the same keys, B·Hkv = 4
        { 2, 1, 100, 140, 4, 1, 16 },    // GQA (n_rep 4), a cached prefix, B·Hkv = 1
        { 2, 4, 60, 60, 2, 2, 8 },       // B·Hkv = 8, d = 8
        { 1, 2, 100, 100, 4, 2, 16 },    // ordinary attention, GQA
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsAreBitIdenticalWhateverTheScheduleAndWorkerCount(int maps, int batch, int t, int s, int h, int hkv, int d)
    {
        var reference = Run(maps, batch, t, s, h, hkv, d, threads: 2, reversed: false);
        foreach (var (threads, reversed) in new[] { (2, false), (2, true), (1, false), (3, false), (3, true) })
        {
            var other = Run(maps, batch, t, s, h, hkv, d, threads, reversed);
            for (int i = 0; i < reference.Length; i++)
            {
                var (name, expected) = reference[i];
                float[] actual = other[i].Values;
                int differ = expected.Zip(actual).Count(p => BitConverter.SingleToInt32Bits(p.First) != BitConverter.SingleToInt32Bits(p.Second));
                log.WriteLine($"{name}, {threads} workers{(reversed ? ", reversed" : "")}: {differ} of {expected.Length} values differ");
                Assert.True(differ == 0, $"{name} with {threads} workers{(reversed ? ", work reversed" : "")}: {differ} of {expected.Length} values differ from the 2-worker run");
            }
        }
    }

    /// <summary>Output and gradients of q, k, v (and λ) for fixed inputs, with the kernel's switches set for the call.</summary>
    private static (string Name, float[] Values)[] Run(int maps, int batch, int t, int s, int h, int hkv, int d, int threads, bool reversed)
    {
        BlockedAttention.ForcedThreads = threads;
        BlockedAttention.ReversedSchedule = reversed;
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(11);
            int dv = maps * d;
            var q = randn(batch, t, maps * h, d).mul(Scalars.Of(1.5)).requires_grad_(true);
            var k = randn(batch, s, maps * hkv, d).mul(Scalars.Of(1.5)).requires_grad_(true);
            var v = randn(batch, s, hkv, dv).requires_grad_(true);
            var lambda = tensor(0.37f).requires_grad_(true);
            var dOut = randn(batch, t, h, dv);
            var y = maps == 2 ? BlockedAttention.Differential(q, k, v, lambda) : BlockedAttention.Standard(q, k, v);
            y.mul(dOut).sum().backward();
            var all = new List<(string, float[])>
            {
                ("out", y.detach().data<float>().ToArray()),
                ("grad q", q.grad!.data<float>().ToArray()),
                ("grad k", k.grad!.data<float>().ToArray()),
                ("grad v", v.grad!.data<float>().ToArray()),
            };
            if (maps == 2) all.Add(("grad lambda", lambda.grad!.reshape(1).data<float>().ToArray()));
            return [.. all];
        }
        finally
        {
            BlockedAttention.ForcedThreads = null;
            BlockedAttention.ReversedSchedule = false;
        }
    }
}
