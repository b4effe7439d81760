namespace DiffTransformer.Data;

/// <summary>Counter-based random numbers: a pure function of (seed, counters), so any draw can be recomputed.</summary>
public static class CounterHash
{
    /// <summary>The SplitMix64 output function (Steele, Lea, Flood 2014) applied to state <paramref name="z"/>.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A 64-bit hash of (seed, a, b); every argument changes every output bit.</summary>
    public static ulong Hash(ulong seed, ulong a, ulong b = 0) => Mix(Mix(Mix(seed) ^ a) ^ b);

    /// <summary>Uniform double in [0, 1) from the top 53 bits of <see cref="Hash"/>.</summary>
    public static double Uniform(ulong seed, ulong a, ulong b = 0) => (Hash(seed, a, b) >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// An integer in [0, n) from the high half of hash × n (Lemire's multiply-shift; the bias, at most n / 2⁶⁴,
    /// is negligible for any token count).
    /// </summary>
    public static long Below(long n, ulong seed, ulong a, ulong b = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return (long)Math.BigMul(Hash(seed, a, b), (ulong)n, out _);
    }
}
