using System.Collections.Concurrent;
using TorchSharp;

namespace DiffTransformer.Kernels;

/// <summary>
/// TorchSharp Scalars for constants, made once and kept for the life of the process.
/// <para>
/// Why. A TorchSharp <see cref="Scalar"/> wraps a native <c>c10::Scalar*</c> that its finalizer frees. One made
/// implicitly from a number (<c>t.mul(0.5)</c>, <c>t.masked_fill(m, float.NegativeInfinity)</c>) is unreachable as
/// soon as its handle has been read, so a collection on any other thread may free it while libtorch is still
/// reading it inside the call. CI has seen exactly that: "INTERNAL ASSERT FAILED at Scalar.h" in <c>pow</c> and
/// in <c>masked_fill</c>. So those conversions are banned in every project (build/BannedSymbols.txt, enforced by
/// the BannedApiAnalyzers at build time), and so are the TorchSharp members that make such a Scalar inside themselves:
/// <c>square()</c> (pow(2)), <c>add</c>/<c>add_</c> without an alpha (alpha 1), <c>arange</c> without a step,
/// <c>normal(mean, std, …)</c> and Tensor's operators with a number (or +, which is add). Code uses either a Scalar from here — for a value drawn from a small
/// set (literals, config-derived constants such as 1/√d or 1 − λinit) — or, for a value that changes from call to
/// call (a learning rate, a position), <c>using var s = x.ToScalar();</c> held to the end of the call.
/// Some TorchSharp overloads make such a Scalar themselves, out of the analyzer's sight: <c>add(t)</c> and
/// <c>add(s)</c> are <c>add(…, 1)</c>, <c>a + b</c> is <c>add(b)</c>, <c>arange(a, b)</c> is <c>arange(a, b, 1)</c>,
/// <c>square()</c> is <c>pow(2)</c>. Those overloads are banned as well; the code passes the Scalar itself
/// (<c>add(t, Scalars.Of(1))</c>: the same int-typed 1, so the same call).
/// </para>
/// <para>
/// The cached Scalar is the very one the implicit conversion would have made (same type, same value; keyed by
/// bit pattern so −0.0 and NaN payloads stay distinct), so results are unchanged bit for bit. Scalars are
/// immutable and libtorch only reads them, so sharing one across threads is safe.
/// </para>
/// </summary>
internal static class Scalars
{
    private static readonly ConcurrentDictionary<long, Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<int, Scalar> Floats = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();
    private static readonly ConcurrentDictionary<int, Scalar> Ints = new();

    /// <summary>A double-typed Scalar of <paramref name="value"/> (what <c>(Scalar)value</c> would make).</summary>
    public static Scalar Of(double value) =>
        Doubles.GetOrAdd(BitConverter.DoubleToInt64Bits(value), static bits => BitConverter.Int64BitsToDouble(bits).ToScalar());

    /// <summary>A float-typed Scalar of <paramref name="value"/>.</summary>
    public static Scalar Of(float value) =>
        Floats.GetOrAdd(BitConverter.SingleToInt32Bits(value), static bits => BitConverter.Int32BitsToSingle(bits).ToScalar());

    /// <summary>A 64-bit integer Scalar of <paramref name="value"/>.</summary>
    public static Scalar Of(long value) => Longs.GetOrAdd(value, static v => v.ToScalar());

    /// <summary>A 32-bit integer Scalar of <paramref name="value"/>.</summary>
    public static Scalar Of(int value) => Ints.GetOrAdd(value, static v => v.ToScalar());
}
