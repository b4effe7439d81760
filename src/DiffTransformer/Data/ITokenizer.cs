namespace DiffTransformer.Data;

/// <summary>
/// Text ⇄ token ids. Implementations are immutable and safe to call from several threads at once.
/// </summary>
public interface ITokenizer
{
    /// <summary>The name <see cref="Tokenizers.Create"/> knows it by (recorded in shard headers and meta.json).</summary>
    string Name { get; }

    /// <summary>Number of ids, i.e. one more than the largest id the tokenizer can produce (the model's vocab_size).</summary>
    int VocabSize { get; }

    /// <summary>The end-of-text id written after every document.</summary>
    int EndOfText { get; }

    /// <summary>
    /// Encodes <paramref name="text"/> as ordinary text: special-token strings such as "&lt;|endoftext|&gt;" inside
    /// it are spelled out with ordinary tokens, never mapped to their special ids.
    /// </summary>
    int[] Encode(string text);

    /// <summary>
    /// Decodes ids to text. Special ids decode to their names (EOT → "&lt;|endoftext|&gt;"); byte sequences
    /// that are not valid UTF-8 become U+FFFD. Throws <see cref="ArgumentOutOfRangeException"/> for an id outside [0, VocabSize).
    /// </summary>
    string Decode(ReadOnlySpan<int> tokens);
}
