using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace DiffTransformer.Inference;

/// <summary>
/// <see cref="IChatClient"/> (Microsoft.Extensions.AI) over a saved model: any .NET app written against the
/// abstraction can talk to it, streaming or not. The conversation is turned into a prompt by a
/// <see cref="ChatTemplate"/> (default <see cref="ChatTemplate.Transcript"/>), and <see cref="ChatOptions"/> map onto
/// generation: Temperature (0 = greedy), TopP, TopK, MaxOutputTokens, StopSequences (added to the template's) and
/// Seed. Other options (tools, penalties, response formats) are ignored: a base model has no use for them.
/// Requests are served one at a time (the model is shared); generation runs off the caller's thread.
/// </summary>
public sealed class DiffTransformerChatClient : IChatClient
{
    private readonly TextGenerator generator;
    private readonly bool ownsGenerator;
    private readonly SemaphoreSlim gate = new(1, 1);

    public DiffTransformerChatClient(TextGenerator generator, string modelId = "difft", ChatTemplate? template = null,
        GenerationOptions? defaults = null, bool ownsGenerator = false)
    {
        this.generator = generator;
        this.ownsGenerator = ownsGenerator;
        Template = template ?? ChatTemplate.Transcript;
        Defaults = (defaults ?? new GenerationOptions()).Validate();
        Metadata = new ChatClientMetadata("DiffTransformer.NET", providerUri: null, defaultModelId: modelId);
    }

    /// <summary>Loads a model directory (see <see cref="TextGenerator.Load"/>); the model id is the directory's name.</summary>
    public static DiffTransformerChatClient Load(string modelPath, string? tokenizer = null, ChatTemplate? template = null, GenerationOptions? defaults = null)
    {
        var gen = TextGenerator.Load(modelPath, tokenizer);
        string id = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelPath)));
        return new DiffTransformerChatClient(gen, id, template, defaults, ownsGenerator: true);
    }

    public ChatTemplate Template { get; }

    /// <summary>Generation settings used where <see cref="ChatOptions"/> leaves a value unset.</summary>
    public GenerationOptions Defaults { get; }

    public ChatClientMetadata Metadata { get; }

    public TextGenerator Generator => generator;

    /// <summary>The prompt text the model is given for a conversation.</summary>
    public string FormatPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options = null) =>
        Template.Format([.. messages], options?.Instructions);

    /// <summary>The generation options a request runs with.</summary>
    public GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        var sampling = Defaults.Sampling;
        if (options is null) return Defaults with { StopStrings = [.. Template.StopStrings, .. Defaults.StopStrings] };
        sampling = sampling with
        {
            Temperature = options.Temperature ?? sampling.Temperature,
            TopP = options.TopP ?? sampling.TopP,
            TopK = options.TopK ?? sampling.TopK,
            Seed = options.Seed ?? sampling.Seed,
        };
        return new GenerationOptions
        {
            MaxNewTokens = options.MaxOutputTokens ?? Defaults.MaxNewTokens,
            Sampling = sampling,
            StopStrings = [.. Template.StopStrings, .. Defaults.StopStrings, .. options.StopSequences ?? []],
            StopAtEndOfText = Defaults.StopAtEndOfText,
            TruncatePromptFromLeft = Defaults.TruncatePromptFromLeft,
        }.Validate();
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        ChatResponseUpdate? last = null;
        UsageDetails? usage = null;
        await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            text.Append(u.Text);
            foreach (var c in u.Contents) if (c is UsageContent uc) usage = uc.Details;
            last = u;
        }
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ResponseId = last?.ResponseId,
            ModelId = Metadata.DefaultModelId,
            CreatedAt = last?.CreatedAt,
            FinishReason = last?.FinishReason,
            Usage = usage,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Prompt and options are checked before waiting for the model, so bad requests fail at once.
        var genOptions = ToGenerationOptions(options);
        string prompt = FormatPrompt(messages, options);
        var chunks = generator.Stream(prompt, genOptions, cancellationToken);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var e = chunks.GetEnumerator();
        try
        {
            while (await Task.Run(e.MoveNext, cancellationToken).ConfigureAwait(false))
            {
                var chunk = e.Current;
                if (chunk.Result is { } r)
                {
                    var final = new ChatResponseUpdate(ChatRole.Assistant, chunk.Text)
                    {
                        ResponseId = id, MessageId = id, CreatedAt = created, ModelId = Metadata.DefaultModelId,
                        FinishReason = r.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull or FinishReason.Interrupted ? ChatFinishReason.Length : ChatFinishReason.Stop,
                    };
                    final.Contents.Add(new UsageContent(new UsageDetails
                    {
                        InputTokenCount = r.PromptTokens, OutputTokenCount = r.Tokens.Count, TotalTokenCount = r.PromptTokens + r.Tokens.Count,
                    }));
                    final.AdditionalProperties = new() { ["seed"] = r.Seed, ["finish_reason"] = r.FinishReason.ToString() };
                    yield return final;
                }
                else if (chunk.Text.Length > 0)
                {
                    yield return new ChatResponseUpdate(ChatRole.Assistant, chunk.Text)
                    {
                        ResponseId = id, MessageId = id, CreatedAt = created, ModelId = Metadata.DefaultModelId,
                    };
                }
            }
        }
        finally
        {
            e.Dispose();
            gate.Release();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType == typeof(TextGenerator)) return generator;
        return null;
    }

    public void Dispose()
    {
        if (ownsGenerator) generator.Dispose();
        gate.Dispose();
    }
}
