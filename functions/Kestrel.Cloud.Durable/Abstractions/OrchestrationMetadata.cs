namespace Kestrel.Cloud.Durable;

/// <summary>The state of an orchestration instance as a client sees it.</summary>
public sealed class OrchestrationMetadata
{
    /// <summary>Creates metadata.</summary>
    public OrchestrationMetadata(string name, string instanceId)
    {
        this.Name = name;
        this.InstanceId = instanceId;
    }

    /// <summary>The orchestration name.</summary>
    public string Name { get; }

    /// <summary>The instance id.</summary>
    public string InstanceId { get; }

    /// <summary>The runtime status.</summary>
    public OrchestrationRuntimeStatus RuntimeStatus { get; init; }

    /// <summary>When the instance was created (UTC).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the instance last changed (UTC).</summary>
    public DateTimeOffset LastUpdatedAt { get; init; }

    /// <summary>The input as stored (JSON), when requested.</summary>
    public string? SerializedInput { get; init; }

    /// <summary>The output as stored (JSON), when requested and finished.</summary>
    public string? SerializedOutput { get; init; }

    /// <summary>The custom status (JSON), when requested.</summary>
    public string? SerializedCustomStatus { get; init; }

    /// <summary>Why the instance failed, when <see cref="RuntimeStatus"/> is Failed.</summary>
    public TaskFailureDetails? FailureDetails { get; init; }

    /// <summary>The parent instance id for sub-orchestrations.</summary>
    public string? ParentInstanceId { get; init; }

    /// <summary>The current execution id (changes on ContinueAsNew).</summary>
    public string? ExecutionId { get; init; }

    /// <summary>The data converter used by the Read*As methods.</summary>
    public DataConverter DataConverter { get; init; } = JsonDataConverter.Default;

    /// <summary>True while Pending, Running or Suspended.</summary>
    public bool IsRunning => !this.RuntimeStatus.IsTerminal();

    /// <summary>True when Completed, Failed or Terminated.</summary>
    public bool IsCompleted => this.RuntimeStatus.IsTerminal();

    /// <summary>Deserializes the input.</summary>
    public T? ReadInputAs<T>() => this.DataConverter.Deserialize<T>(this.SerializedInput);

    /// <summary>Deserializes the output.</summary>
    public T? ReadOutputAs<T>() => this.DataConverter.Deserialize<T>(this.SerializedOutput);

    /// <summary>Deserializes the custom status.</summary>
    public T? ReadCustomStatusAs<T>() => this.DataConverter.Deserialize<T>(this.SerializedCustomStatus);
}
