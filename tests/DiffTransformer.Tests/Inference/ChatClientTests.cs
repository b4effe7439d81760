using DiffTransformer.Inference;
using Microsoft.Extensions.AI;

namespace DiffTransformer.Tests.Inference;

public sealed class ChatClientTests(TinyCheckpoints checkpoints) : IClassFixture<TinyCheckpoints>
{
    private static readonly List<ChatMessage> Conversation =
    [
        new(ChatRole.System, "Be brief."),
        new(ChatRole.User, "Hello there"),
        new(ChatRole.Assistant, "Hi."),
        new(ChatRole.User, "What is λ?"),
    ];

    [Fact]
    public async Task StreamsTheSameTextAsGenerateForTheSameSeed()
    {
        using IChatClient client = DiffTransformerChatClient.Load(checkpoints.Save("diff-256", TinyCheckpoints.Config() with { MaxSeqLen = 256 }));
        var options = new ChatOptions { Temperature = 0.9f, TopP = 0.95f, TopK = 50, MaxOutputTokens = 40, Seed = 77, StopSequences = ["\n\n"] };
        var streamed = new List<string>();
        ChatResponseUpdate? last = null;
        await foreach (var u in client.GetStreamingResponseAsync(Conversation, options))
        {
            if (u.Text.Length > 0) streamed.Add(u.Text);
            last = u;
        }

        // the same request through the generator directly, as `difft generate` runs it
        var chat = (DiffTransformerChatClient)client;
        var pieces = new List<string>();
        var result = chat.Generator.Generate(chat.FormatPrompt(Conversation, options), chat.ToGenerationOptions(options), pieces.Add);
        Assert.Equal(pieces, streamed);
        Assert.Equal(result.Text, string.Concat(streamed));
        Assert.NotNull(last?.FinishReason);
        var usage = Assert.Single(last!.Contents.OfType<UsageContent>()).Details;
        Assert.Equal(result.PromptTokens, usage.InputTokenCount);
        Assert.Equal(result.Tokens.Count, usage.OutputTokenCount);

        var whole = await client.GetResponseAsync(Conversation, options);
        Assert.Equal(result.Text, whole.Text);
        Assert.Equal(ChatRole.Assistant, whole.Messages.Single().Role);
    }

    [Fact]
    public async Task HonoursMaxTokensTemperatureZeroAndStopSequences()
    {
        using var client = DiffTransformerChatClient.Load(checkpoints.Diff, template: ChatTemplate.Plain,
            defaults: new GenerationOptions { StopAtEndOfText = false });
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        var r = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "abc")], greedy);
        var direct = client.Generator.Generate("abc", new GenerationOptions { MaxNewTokens = 12, Sampling = SamplingOptions.Greedy, StopAtEndOfText = false });
        Assert.Equal(direct.Text, r.Text);                              // the plain template adds nothing to the prompt
        Assert.Equal(ChatFinishReason.Length, r.FinishReason);
        Assert.Equal(12, r.Usage!.OutputTokenCount);

        string stop = direct.Text.Substring(4, 2);
        var stopped = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "abc")], new ChatOptions { Temperature = 0, MaxOutputTokens = 12, StopSequences = [stop] });
        Assert.Equal(direct.Text[..direct.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task BadRequestsFailBeforeGenerating()
    {
        using var client = DiffTransformerChatClient.Load(checkpoints.Diff);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "x")], new ChatOptions { Temperature = -1 }));
        Assert.Contains("temperature", e.Message);
        var tooLong = await Assert.ThrowsAsync<PromptTooLongException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, new string('y', 200))]));
        Assert.Equal(64, tooLong.ContextLength);
    }

    [Fact]
    public void TheTranscriptTemplateAndMetadata()
    {
        using var client = DiffTransformerChatClient.Load(checkpoints.Diff);
        Assert.Equal("System: Be brief.\nUser: Hello there\nAssistant: Hi.\nUser: What is λ?\nAssistant:", client.FormatPrompt(Conversation));
        Assert.Equal("System: Short answers.\nUser: Hi\nAssistant:", client.FormatPrompt([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { Instructions = "Short answers." }));
        Assert.Contains("\nUser:", client.ToGenerationOptions(null).StopStrings);
        var meta = (ChatClientMetadata)client.GetService(typeof(ChatClientMetadata))!;
        Assert.Equal("diff", meta.DefaultModelId);
        Assert.Same(client, client.GetService(typeof(IChatClient)));
    }

    [Fact]
    public async Task TheReadmeExampleRuns()
    {
        // README.md, "A chat client for .NET applications", against a tiny checkpoint (context 256)
        using IChatClient client = DiffTransformerChatClient.Load(checkpoints.Save("diff-256", TinyCheckpoints.Config() with { MaxSeqLen = 256 }));
        var options = new ChatOptions { Temperature = 0.8f, TopP = 0.95f, MaxOutputTokens = 20, Seed = 1 };
        var streamed = new System.Text.StringBuilder();
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("Tell me about the sea.", options))
            streamed.Append(update.Text);
        ChatResponse response = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.System, "Answer briefly."), new ChatMessage(ChatRole.User, "What is a differential transformer?")],
            options);
        Assert.NotNull(response.Usage?.OutputTokenCount);
        Assert.InRange(response.Usage!.OutputTokenCount!.Value, 0, 20);
        Assert.NotNull(response.FinishReason);
        var again = await client.GetResponseAsync("Tell me about the sea.", options);
        Assert.Equal(streamed.ToString(), again.Text);
    }
}
