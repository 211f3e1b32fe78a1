using System.Net;
using System.Text;
using System.Text.Json;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Functions.Tests.Infrastructure;

namespace Kestrel.Cloud.Functions.Tests.Api;

public class StartEndpointsTests
{
    [Fact]
    public async Task ListOrchestrators_SamplesEnabled_ReturnsSortedNames()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement body = await (await host.Client.GetAsync("/api/orchestrators")).ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("orchestrators").EnumerateArray().Select(e => e.GetString()).Should().Equal("AgentTurn", "ApprovalWorkflow", "HelloSequence");
    }

    [Fact]
    public async Task StartHelloSequence_NoBody_Returns202WithLinksAndCompletesWithThreeGreetings()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/orchestrators/HelloSequence", null);

        JsonElement started = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        string id = started.GetProperty("id").GetString()!;
        string statusUri = started.GetProperty("statusQueryGetUri").GetString()!;
        statusUri.Should().Be(new Uri(host.BaseAddress, $"api/instances/{id}").ToString());
        response.Headers.Location.Should().Be(new Uri(statusUri));
        started.GetProperty("sendEventPostUri").GetString().Should().Be(statusUri + "/raiseEvent/{eventName}");
        started.GetProperty("terminatePostUri").GetString().Should().Be(statusUri + "/terminate?reason={text}");
        started.GetProperty("suspendPostUri").GetString().Should().Be(statusUri + "/suspend?reason={text}");
        started.GetProperty("resumePostUri").GetString().Should().Be(statusUri + "/resume?reason={text}");
        started.GetProperty("purgeHistoryDeleteUri").GetString().Should().Be(statusUri);

        await host.WaitForCompletionAsync(id);
        JsonElement status = await (await host.Client.GetAsync(statusUri)).ShouldBeJsonAsync(HttpStatusCode.OK);
        status.GetProperty("name").GetString().Should().Be("HelloSequence");
        status.GetProperty("instanceId").GetString().Should().Be(id);
        status.GetProperty("runtimeStatus").GetString().Should().Be("Completed");
        status.GetProperty("output").EnumerateArray().Select(e => e.GetString()).Should().Equal("Hello Tokyo!", "Hello Seattle!", "Hello London!");
        status.GetProperty("failureDetails").ValueKind.Should().Be(JsonValueKind.Null);
        status.GetProperty("createdTime").GetDateTime().Should().Be(host.Clock.GetUtcNow().UtcDateTime);
        status.TryGetProperty("historyEvents", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Start_NameInOtherCase_StartsTheRegisteredOrchestration()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        JsonElement started = await (await host.Client.PostAsync("/api/orchestrators/hellosequence", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);

        OrchestrationMetadata done = await host.WaitForCompletionAsync(started.GetProperty("id").GetString()!);
        done.Name.Should().Be("HelloSequence");
        done.RuntimeStatus.Should().Be(OrchestrationRuntimeStatus.Completed);
    }

    [Fact]
    public async Task StartWithInstanceId_IdInUse_FirstIs202AndSecondIs409Problem()
    {
        await using ServerHost host = await ServerHost.StartAsync();
        var input = HttpAssertions.Json("""{"request":"buy a boat","timeoutSeconds":600}""");

        JsonElement started = await (await host.Client.PostAsync("/api/orchestrators/ApprovalWorkflow/order-42", input)).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        HttpResponseMessage again = await host.Client.PostAsync("/api/orchestrators/ApprovalWorkflow/order-42", null);

        started.GetProperty("id").GetString().Should().Be("order-42");
        JsonElement problem = await again.ShouldBeProblemAsync(HttpStatusCode.Conflict, "instance-already-exists");
        problem.Detail().Should().Contain("'order-42' already exists").And.Contain("Choose another instance id");
        OrchestrationMetadata? metadata = await host.DurableClient.GetInstanceAsync("order-42", getInputsAndOutputs: true);
        metadata!.ReadInputAs<JsonElement>().GetProperty("request").GetString().Should().Be("buy a boat");
    }

    [Fact]
    public async Task Start_UnknownName_Returns404ListingRegisteredNames()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/orchestrators/NoSuchThing", null);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.NotFound, "orchestrator-not-registered");
        problem.Detail().Should().Be(
            "No orchestrator named 'NoSuchThing' is registered. Registered orchestrators: AgentTurn, ApprovalWorkflow, HelloSequence. " +
            "Names are case-insensitive; GET /api/orchestrators lists them.");
        problem.GetProperty("registeredOrchestrators").EnumerateArray().Select(e => e.GetString()).Should().Equal("AgentTurn", "ApprovalWorkflow", "HelloSequence");
    }

    [Fact]
    public async Task Start_MalformedJson_Returns400NamingLineAndPosition()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/orchestrators/HelloSequence", HttpAssertions.Json("{\n  \"city\": Tokyo\n}"));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-json");
        problem.Detail().Should().StartWith("The request body is not valid JSON: ")
            .And.Contain("(line 2, byte 11)")
            .And.EndWith("Send one JSON value, for example {\"city\":\"Tokyo\"} or \"text\", or an empty body for no input.");
        problem.GetProperty("line").GetInt32().Should().Be(2);
        problem.GetProperty("bytePositionInLine").GetInt32().Should().Be(11);
        (await host.DurableClient.QueryInstancesAsync(new OrchestrationQuery())).Values.Should().BeEmpty();
    }

    [Fact]
    public async Task Start_BodyOverLimitWithContentLength_Returns413()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.Add("--KestrelCloud:Http:MaxRequestBodySizeBytes=2048"));
        string big = JsonSerializer.Serialize(new string('x', 3000));

        HttpResponseMessage response = await host.Client.PostAsync("/api/orchestrators/HelloSequence", HttpAssertions.Json(big));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        problem.Detail().Should().Be(
            "The request body is 3002 bytes, over the limit of 2048 bytes. Send a smaller payload (pass a reference such as a blob name instead of the data), " +
            "or raise KestrelCloud:Http:MaxRequestBodySizeBytes.");
    }

    [Fact]
    public async Task Start_ChunkedBodyOverLimit_Returns413()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.Add("--KestrelCloud:Http:MaxRequestBodySizeBytes=2048"));
        byte[] big = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new string('x', 3000)));
        var content = new StreamContent(new MemoryStream(big));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orchestrators/HelloSequence") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        HttpResponseMessage response = await host.Client.SendAsync(request);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        problem.Detail().Should().StartWith("The request body is over the limit of 2048 bytes.");
    }

    [Fact]
    public async Task Start_InputOverEnginePayloadLimit_Returns413NamingTheEngineLimit()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.Args.Add("--KestrelCloud:Durable:MaxPayloadSizeBytes=1024"));
        string input = JsonSerializer.Serialize(new string('y', 1500));

        HttpResponseMessage response = await host.Client.PostAsync("/api/orchestrators/HelloSequence", HttpAssertions.Json(input));

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        problem.Detail().Should().Contain("The orchestration input is 1502 bytes, over the limit of 1024 bytes (DurableTaskOptions.MaxPayloadSizeBytes).");
    }

    [Fact]
    public async Task Start_InstanceIdTooLong_Returns400NamingTheRule()
    {
        await using ServerHost host = await ServerHost.StartAsync();

        HttpResponseMessage response = await host.Client.PostAsync("/api/orchestrators/HelloSequence/" + new string('a', 300), null);

        JsonElement problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest, "invalid-route-value");
        problem.Detail().Should().Contain("it must be 1 to 256 characters");
    }
}
