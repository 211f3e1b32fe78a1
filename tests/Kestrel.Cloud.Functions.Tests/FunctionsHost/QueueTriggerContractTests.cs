using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Durable.AzureStorage;
using Kestrel.Cloud.Functions.Samples;
using Kestrel.Cloud.Functions.Tests.Infrastructure;
using Kestrel.Cloud.Testing.Azurite;
using Microsoft.Extensions.DependencyInjection;

namespace Kestrel.Cloud.Functions.Tests.FunctionsHost;

/// <summary>
/// The custom-handler contract on Azurite: the test plays the Functions host. It receives the store's queue messages
/// itself (base64-decoded, as the queue trigger delivers them) and posts exactly what the host posts to
/// <c>POST /{FunctionName}</c>; the app runs no dispatcher of its own, so only these invocations move the work.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class QueueTriggerContractTests
{
    private static readonly TimeSpan ReceiveVisibility = TimeSpan.FromSeconds(30);
    private readonly AzuriteFixture azurite;

    public QueueTriggerContractTests(AzuriteFixture azurite) => this.azurite = azurite;

    [Fact]
    public async Task ControlQueue_HostPostsTheStartWakeUp_Answers200WithInvocationResultAndStartsTheInstance()
    {
        await using FunctionsApp app = await this.StartAsync();
        string instanceId = await app.StartHelloSequenceAsync();
        QueueMessage message = await app.ReceiveAsync(app.Control);

        HttpResponseMessage response = await app.InvokeAsync("ControlQueue", message);

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        body.EnumerateObject().Select(p => p.Name).Should().Equal("Outputs", "Logs", "ReturnValue");
        body.GetProperty("Outputs").EnumerateObject().Should().BeEmpty();
        body.GetProperty("ReturnValue").ValueKind.Should().Be(JsonValueKind.Null);
        body.GetProperty("Logs").EnumerateArray().Select(l => l.GetString()).Should().ContainSingle()
            .Which.Should().Contain(message.MessageId).And.Contain(instanceId);
        OrchestrationMetadata? metadata = await app.Host.DurableClient.GetInstanceAsync(instanceId);
        metadata!.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Running);
        (await app.Activities.PeekMessagesAsync(maxMessages: 32)).Value.Should().ContainSingle("the first step scheduled one activity");
    }

    [Fact]
    public async Task QueueTriggers_HostDeliversEveryMessage_OrchestrationCompletes()
    {
        await using FunctionsApp app = await this.StartAsync();
        string instanceId = await app.StartHelloSequenceAsync();

        OrchestrationMetadata done = await app.PumpUntilFinishedAsync(instanceId);

        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
        done.SerializedOutput.Should().Contain("Tokyo").And.Contain("Seattle").And.Contain("London");
    }

    [Fact]
    public async Task ControlQueue_DequeueCountAboveStoreLimit_Answers200AndTheStorePoisonsAndFailsTheInstance()
    {
        await using FunctionsApp app = await this.StartAsync();
        string instanceId = await app.StartHelloSequenceAsync();
        QueueMessage message = await app.ReceiveAsync(app.Control);
        long aboveLimit = new AzureStorageStoreOptions().MaxDequeueCount + 1;

        HttpResponseMessage response = await app.InvokeAsync("ControlQueue", message, dequeueCount: aboveLimit);

        (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("Logs")[0].GetString().Should().Contain("no work");
        OrchestrationMetadata done = await app.PumpUntilFinishedAsync(instanceId);
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Failed);
        done.FailureDetails!.ErrorType.Should().Be(AzureStorageOrchestrationStore.PoisonErrorType);
        QueueClient poison = new QueueServiceClient(this.azurite.ConnectionString).GetQueueClient(app.Control.Name.Replace("-control", "-poison", StringComparison.Ordinal));
        (await poison.PeekMessagesAsync(maxMessages: 32)).Value.Should().ContainSingle();
    }

    [Fact]
    public async Task GetReady_UnderTheHostWithoutOwnDispatcher_Returns200()
    {
        await using FunctionsApp app = await this.StartAsync();

        JsonElement body = await (await app.Invoker.GetAsync("/api/ready")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("dispatcherRunning").GetBoolean().Should().BeFalse("the host's queue triggers drive the work");
    }

    [Fact]
    public async Task ControlQueue_MessageTheStoreDidNotWrite_AnswersNon2xxSoTheHostRetries()
    {
        await using FunctionsApp app = await this.StartAsync();
        await app.Control.SendMessageAsync("not a store message");
        QueueMessage message = await app.ReceiveAsync(app.Control);

        HttpResponseMessage response = await app.InvokeAsync("ControlQueue", message);

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.BadRequest);
        body.GetProperty("Logs")[0].GetString().Should().Contain("is not a message of the Azure Storage store");
    }

    [Fact]
    public async Task ControlQueue_MetadataWithoutPopReceipt_Answers400NamingIt()
    {
        await using FunctionsApp app = await this.StartAsync();
        string payload = """{"Data":{"message":"\"{}\""},"Metadata":{"Id":"\"abc\"","DequeueCount":"1"}}""";

        HttpResponseMessage response = await app.Invoker.PostAsync("/ControlQueue", new StringContent(payload, Encoding.UTF8, "application/json"));

        JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.BadRequest);
        body.GetProperty("Logs")[0].GetString().Should().Contain("'PopReceipt' is missing");
    }

    private async Task<FunctionsApp> StartAsync()
    {
        string hub = "fn" + Guid.NewGuid().ToString("N")[..12];
        ServerHost host = await ServerHost.StartAsync(o =>
        {
            o.UnderFunctionsHost();
            o.UseAzureWebJobsStorage(this.azurite.ConnectionString, hub);
            // The test's manual clock never moves: wake-ups must not be hidden behind real-time delays.
            o.ConfigureServices = s => s.PostConfigure<AzureStorageStoreOptions>(a => a.MaxWakeUpDelay = TimeSpan.Zero);
        });
        var queues = new QueueServiceClient(this.azurite.ConnectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        return new FunctionsApp(host, queues.GetQueueClient($"{hub}-control"), queues.GetQueueClient($"{hub}-activities"));
    }

    private sealed class FunctionsApp : IAsyncDisposable
    {
        public FunctionsApp(ServerHost host, QueueClient control, QueueClient activities)
        {
            this.Host = host;
            this.Control = control;
            this.Activities = activities;
            this.Invoker = new HttpClient { BaseAddress = host.BaseAddress };
        }

        public ServerHost Host { get; }

        public QueueClient Control { get; }

        public QueueClient Activities { get; }

        /// <summary>The Functions host's client: no API key.</summary>
        public HttpClient Invoker { get; }

        public async Task<string> StartHelloSequenceAsync()
        {
            HttpResponseMessage response = await this.Host.Client.PostAsync($"/api/orchestrators/{HelloSequence.Name}", null);
            JsonElement body = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
            return body.GetProperty("id").GetString()!;
        }

        /// <summary>Receives one message as the queue trigger does, polling (as the host does) until the deadline.</summary>
        public async Task<QueueMessage> ReceiveAsync(QueueClient queue)
        {
            CancellationToken deadline = ServerHost.DeadlineToken();
            while (true)
            {
                QueueMessage? message = (await queue.ReceiveMessageAsync(ReceiveVisibility, deadline)).Value;
                if (message is not null)
                {
                    return message;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), deadline);
            }
        }

        /// <summary>Posts what the Functions host posts for a queue-triggered function.</summary>
        public Task<HttpResponseMessage> InvokeAsync(string function, QueueMessage message, long? dequeueCount = null)
        {
            // String values are JSON-encoded a second time; the message body arrives base64-decoded.
            var metadata = new Dictionary<string, object>
            {
                ["DequeueCount"] = JsonSerializer.Serialize(dequeueCount ?? message.DequeueCount),
                ["ExpirationTime"] = JsonSerializer.Serialize(message.ExpiresOn),
                ["Id"] = JsonSerializer.Serialize(message.MessageId),
                ["InsertionTime"] = JsonSerializer.Serialize(message.InsertedOn),
                ["NextVisibleTime"] = JsonSerializer.Serialize(message.NextVisibleOn),
                ["PopReceipt"] = JsonSerializer.Serialize(message.PopReceipt),
                ["sys"] = new Dictionary<string, string> { ["MethodName"] = function, ["UtcNow"] = DateTime.UtcNow.ToString("O") },
            };
            var payload = new Dictionary<string, object>
            {
                ["Data"] = new Dictionary<string, string> { ["message"] = JsonSerializer.Serialize(message.MessageText) },
                ["Metadata"] = metadata,
            };
            return this.Invoker.PostAsync("/" + function, new StringContent(JsonSerializer.Serialize(payload), Encoding.UTF8, "application/json"));
        }

        /// <summary>Plays the host's two queue triggers until the instance finishes, bounded by the deadline.</summary>
        public async Task<OrchestrationMetadata> PumpUntilFinishedAsync(string instanceId)
        {
            CancellationToken deadline = ServerHost.DeadlineToken();
            while (true)
            {
                OrchestrationMetadata? metadata = await this.Host.DurableClient.GetInstanceAsync(instanceId, getInputsAndOutputs: true, deadline);
                if (metadata is not null && metadata.RuntimeStatus.IsTerminal())
                {
                    return metadata;
                }

                bool delivered = false;
                foreach ((QueueClient queue, string function) in new[] { (this.Control, "ControlQueue"), (this.Activities, "ActivityQueue") })
                {
                    QueueMessage? message = (await queue.ReceiveMessageAsync(ReceiveVisibility, deadline)).Value;
                    if (message is null)
                    {
                        continue;
                    }

                    delivered = true;
                    HttpResponseMessage response = await this.InvokeAsync(function, message);
                    await response.ShouldBeJsonAsync(HttpStatusCode.OK);
                }

                if (!delivered)
                {
                    // Nothing visible yet (a message re-queued with a short delay): poll again, as the host does.
                    await Task.Delay(TimeSpan.FromMilliseconds(50), deadline);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            this.Invoker.Dispose();
            await this.Host.DisposeAsync();
        }
    }
}
