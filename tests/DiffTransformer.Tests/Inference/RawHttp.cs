using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DiffTransformer.Tests.Inference;

/// <summary>HTTP/1.1 by hand over a loopback socket, for requests HttpClient will not send (no body, bad bytes, a stalled body).</summary>
internal static class RawHttp
{
    /// <summary>Connects and sends <paramref name="head"/> (request line and headers, CRLF-separated, without the blank line) and then <paramref name="body"/>.</summary>
    public static async Task<TcpClient> Open(Uri server, string head, byte[]? body = null)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + "\r\nHost: " + server.Authority + "\r\nConnection: close\r\n\r\n"));
        if (body is not null) await stream.WriteAsync(body);
        await stream.FlushAsync();
        return tcp;
    }

    /// <summary>Everything the server sends until it closes the connection (at most <paramref name="timeout"/>).</summary>
    public static async Task<Response> Read(TcpClient tcp, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var all = new MemoryStream();
        try
        {
            await tcp.GetStream().CopyToAsync(all, cts.Token);
        }
        catch (IOException)
        {
            // a reset after the response: what arrived is the answer
        }
        return Response.Parse(Encoding.UTF8.GetString(all.ToArray()));
    }

    public static async Task<Response> Send(Uri server, string head, byte[]? body = null)
    {
        using var tcp = await Open(server, head, body);
        return await Read(tcp, TimeSpan.FromSeconds(30));
    }

    public sealed record Response(int Status, string Headers, string Body)
    {
        public static Response Parse(string raw)
        {
            int split = raw.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Assert.True(split > 0, $"no HTTP response: '{raw}'");
            string head = raw[..split];
            return new(int.Parse(head.Split(' ')[1]), head, raw[(split + 4)..]);
        }

        /// <summary>The message of the JSON error body (which must be one).</summary>
        public string ErrorMessage
        {
            get
            {
                Assert.Contains("application/json", Headers);
                using var doc = JsonDocument.Parse(Body);
                return doc.RootElement.GetProperty("error").GetProperty("message").GetString()!;
            }
        }
    }
}
