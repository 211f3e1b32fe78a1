using Kestrel.Cloud.Agents.Tools.Mcp;

namespace Kestrel.Cloud.Agents.Tests.Tools.Mcp;

/// <summary>
/// One server-everything over stdio, shared by the tests of a class. Before it starts, the test process gets a
/// secret-looking variable (as the host would hold an API key), which must not reach the server.
/// </summary>
public sealed class McpEverythingFixture : IAsyncLifetime
{
    public const string SecretVariable = "KestrelCloud__Providers__OpenAI__ApiKey_McpTest";
    public const string SecretValue = "sk-test-must-not-leak-7f3a9c";
    public const string OtherSecretVariable = "OPENAI_API_KEY_MCP_TEST";

    public McpServerConnection Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(SecretVariable, SecretValue);
        Environment.SetEnvironmentVariable(OtherSecretVariable, SecretValue);
        McpServerOptions server = await McpTestServers.EverythingAsync();
        server.Env["CONFIGURED_FOR_SERVER"] = "visible-value";
        this.Connection = McpTestServers.Connection("everything", server, maxResultSizeBytes: 4096);
        bool connected = await this.Connection.ConnectAsync().WaitAsync(McpTestServers.Timeout);
        if (!connected)
        {
            throw new InvalidOperationException($"server-everything did not connect: {this.Connection.Status.Reason}");
        }
    }

    public async Task DisposeAsync()
    {
        await this.Connection.DisposeAsync().AsTask().WaitAsync(McpTestServers.Timeout);
    }
}
