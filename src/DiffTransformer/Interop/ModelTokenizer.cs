using DiffTransformer.Data;
using DiffTransformer.Model;

namespace DiffTransformer.Interop;

/// <summary>The tokenizer a saved model records (<see cref="ModelStore.LoadTokenizerName"/>), as an <see cref="ITokenizer"/>.</summary>
public static class ModelTokenizer
{
    /// <summary>
    /// One of ours by the name its tokenizer.json gives, or that file itself read as a Hugging Face tokenizer
    /// (<see cref="HfBpeTokenizer"/>, e.g. after <c>difft import</c>); null when the model names none.
    /// </summary>
    public static ITokenizer? Load(string modelPath) => ModelStore.LoadTokenizerName(modelPath) switch
    {
        null => null,
        ModelStore.TokenizerFile => HfBpeTokenizer.Load(ModelStore.TokenizerPath(modelPath)),
        string name => Tokenizers.Create(name),
    };
}
