using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Agents.Tools.Mcp;

/// <summary>Registers the MCP servers' tools with a host.</summary>
public static class McpServiceCollectionExtensions
{
    /// <summary>
    /// Binds <c>KestrelCloud:Mcp</c> from <paramref name="configuration"/> (the root configuration) and validates it
    /// at once (an <see cref="ArgumentException"/> lists every problem with its key). Registers
    /// <see cref="McpToolSource"/> (also as <see cref="IToolSource"/>, which <see cref="ToolRegistry"/>'s DI
    /// constructor picks up) and <see cref="McpToolsHostedService"/>, which connects the servers at start-up.
    /// </summary>
    public static IServiceCollection AddMcpTools(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new McpServersOptions();
        configuration.GetSection(McpServersOptions.SectionName).Bind(options);
        options.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IOptions<McpServersOptions>>(Options.Create(options));
        services.AddSingleton(sp => new McpToolSource(
            sp.GetRequiredService<IOptions<McpServersOptions>>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));
        services.AddSingleton<IToolSource>(sp => sp.GetRequiredService<McpToolSource>());
        services.AddSingleton<IHostedService>(sp => new McpToolsHostedService(
            sp.GetRequiredService<McpToolSource>(),
            sp.GetRequiredService<IOptions<McpServersOptions>>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<McpToolsHostedService>>()));
        return services;
    }
}
