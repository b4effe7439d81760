using System.Text;
using Microsoft.Extensions.AI;

namespace DiffTransformer.Inference;

/// <summary>
/// How a conversation becomes the plain-text prompt of a base language model, and which stop strings end the reply.
/// Our models are not instruction-tuned: the template only makes the conversation look like text in which a reply
/// naturally follows.
/// </summary>
public sealed class ChatTemplate
{
    private readonly Func<IReadOnlyList<ChatMessage>, string?, string> format;

    /// <param name="format">(messages, instructions) → prompt text.</param>
    /// <param name="stopStrings">always added to the request's stop sequences.</param>
    public ChatTemplate(string name, Func<IReadOnlyList<ChatMessage>, string?, string> format, IReadOnlyList<string>? stopStrings = null)
    {
        Name = name;
        this.format = format;
        StopStrings = stopStrings ?? [];
    }

    public string Name { get; }

    public IReadOnlyList<string> StopStrings { get; }

    /// <summary>The prompt for <paramref name="messages"/>, with <paramref name="instructions"/> (ChatOptions.Instructions) as a leading system message.</summary>
    public string Format(IReadOnlyList<ChatMessage> messages, string? instructions = null) => format(messages, instructions);

    /// <summary>
    /// A transcript: one line per message, "System: …", "User: …", "Assistant: …" (other roles by their name), ending
    /// with "Assistant:" for the model to continue; the reply ends at a new "\nUser:" or "\nSystem:" line.
    /// </summary>
    public static ChatTemplate Transcript { get; } = new("transcript", (messages, instructions) =>
    {
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(instructions)) sb.Append("System: ").Append(instructions).Append('\n');
        foreach (var m in messages)
        {
            string role = m.Role == ChatRole.System ? "System" : m.Role == ChatRole.User ? "User" : m.Role == ChatRole.Assistant ? "Assistant"
                : m.Role.Value.Length > 0 ? char.ToUpperInvariant(m.Role.Value[0]) + m.Role.Value[1..] : "User";
            sb.Append(role).Append(": ").Append(m.Text).Append('\n');
        }
        sb.Append("Assistant:");
        return sb.ToString();
    }, ["\nUser:", "\nSystem:"]);

    /// <summary>The messages' texts concatenated as they are (instructions first): completion through the chat interface.</summary>
    public static ChatTemplate Plain { get; } = new("plain", (messages, instructions) =>
    {
        var sb = new StringBuilder(instructions ?? "");
        foreach (var m in messages) sb.Append(m.Text);
        return sb.ToString();
    });
}
