using System.Text.Json.Serialization;
using Kestrel.Cloud.Agents;
using Kestrel.Cloud.Agents.Tools.Mcp;
using Kestrel.Cloud.Durable;
using Kestrel.Cloud.Functions.Api;
using Kestrel.Cloud.Functions.Composition;
using Kestrel.Cloud.Functions.Diagnostics;
using Kestrel.Cloud.Functions.FunctionsHost;
using Kestrel.Cloud.Functions.Http;
using Kestrel.Cloud.Functions.Samples;
using Kestrel.Cloud.Functions.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kestrel.Cloud.Functions;

/// <summary>
/// The composition root: builds the server from configuration (section <c>KestrelCloud</c>, see
/// docs/configuration.md). <c>Program</c> runs it; tests start it on a free loopback port with their own services.
/// </summary>
public static class KestrelCloudApp
{
    /// <summary>
    /// Builds the app: configuration, listening URLs, body limit, API-key authentication on every route but
    /// <c>/</c>, <c>/api/health</c>, <c>/api/ready</c> and the signed approval links, problem responses, the durable engine with its store and
    /// in-process dispatcher, the samples and the routes. Throws <see cref="InvalidOperationException"/> listing every
    /// invalid setting.
    /// </summary>
    /// <param name="args">Command-line arguments (<c>--KestrelCloud:Durable:Store=memory</c>, <c>--urls=...</c>).</param>
    /// <param name="configureServices">Runs after the app's registrations, so it can replace them (tests: a
    /// <see cref="TimeProvider"/>, a fake store, log capture).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        IConfigurationSection section = builder.Configuration.GetSection(KestrelCloudOptions.SectionName);
        var options = new KestrelCloudOptions();
        section.Bind(options);
        options.Validate();
        string dataPath = options.GetFullDataPath();
        CreateDataFolder(dataPath);

        if (builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
        {
            // Per-request framework logs are noise by default; configuration can turn them back on.
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }

        ListenUrls urls = ListenUrls.Resolve(builder.Configuration, options);
        IConfiguration configuration = builder.Configuration;
        string? GetSetting(string key) => configuration[key];
        string store = DurableStoreRegistration.Resolve(options.Durable.Store, GetSetting);
        bool underFunctionsHost = urls.Source == ListenUrlSource.FunctionsCustomHandler;
        bool dispatches = DurableStoreRegistration.UsesInProcessDispatcher(store, underFunctionsHost);
        if (underFunctionsHost && builder.Configuration.GetValue<bool>("KestrelCloud:Tools:Shell:Enabled"))
        {
            // A Functions app shares its sandbox with the platform and scales out: no shell for agents there.
            throw new InvalidOperationException(
                "KestrelCloud:Tools:Shell:Enabled is true, but the shell tool is for standalone servers only and is refused under the " +
                "Azure Functions host; remove the setting (or set it to false) in the app settings.");
        }

        builder.WebHost.UseUrls(urls.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.Http.MaxRequestBodySizeBytes;
        });

        IServiceCollection services = builder.Services;
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(urls);
        services.AddSingleton(new HttpBodyLimit(options.Http.MaxRequestBodySizeBytes));
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Extensions.TryAdd("code", ProblemCodes.HttpError);
            c.ProblemDetails.Extensions["correlationId"] = ProblemWriter.CorrelationId(c.HttpContext);
            c.ProblemDetails.Extensions.Remove("traceId"); // the same value as correlationId
            c.ProblemDetails.Detail ??= DefaultDetail(c.ProblemDetails.Status, c.HttpContext.Request.Method);
        });
        services.AddExceptionHandler<ApiExceptionHandler>();

        services.AddSingleton(sp => ApiKeyRing.Load(
            options.ConfiguredApiKeys, dataPath, sp.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category)));
        services.AddHostedService<ApiKeyRingInitializer>();
        // AddAuthenticationCore rather than AddAuthentication: the latter adds Data Protection, which writes key
        // files to the user profile at start-up, and API-key authentication needs none of it.
        services.AddAuthenticationCore(o => o.DefaultScheme = ApiKeyAuthenticationHandler.SchemeName);
        services.AddWebEncoders();
        new AuthenticationBuilder(services)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(o => o.FallbackPolicy = new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()
            .Build());

        services.Configure<DurableTaskOptions>(section.GetSection("Durable"));

        services.AddDurableTask(registry =>
        {
            if (options.Samples.Enabled)
            {
                registry.AddSamples();
            }
        });
        services.AddDurableStore(store, dataPath, GetSetting);
        services.AddSingleton<ServerStatus>();
        // Hosted services start in registration order: this one runs after AddDurableTask's store initializer.
        services.AddHostedService<StoreInitializedMarker>();
        if (dispatches)
        {
            services.AddDurableTaskDispatcher();
        }

        services.AddSingleton(new WorkDispatch(dispatches));
        services.AddSingleton<Housekeeping>();
        if (dispatches && store == DurableStoreRegistration.AzureStorage)
        {
            // Standalone on Azure Storage: nothing else re-wakes an instance whose wake-up was lost.
            services.AddHostedService<HousekeepingService>();
        }
        services.AddSingleton<OrchestrationEndpoints.Services>();

        // Agents: the workspace and stores for the chosen engine store, the engine's AgentTurn orchestration and run
        // service, the MCP servers' tools, then the HTTP API (whose registrations are TryAdd defaults).
        services.AddAgentStores(store, dataPath, configuration);
        services.AddKestrelAgents(configuration);
        services.AddMcpTools(configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthComponent, McpHealthComponent>());
        services.AddAgentsApi(options);

        configureServices?.Invoke(services);

        WebApplication app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapStatusEndpoints();
        app.MapOrchestrationEndpoints();
        app.MapAgentsApi();
        if (underFunctionsHost)
        {
            // Only under the host: then the app listens on 127.0.0.1 alone, and only the host can call them.
            app.MapFunctionsInvocationEndpoints();
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            LogStarted(app, urls, dataPath);
            Log.DispatchMode(
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category),
                dispatches ? "in-process dispatcher" : "Azure Functions queue triggers (no in-process dispatcher)");
        });
        return app;
    }

    private static void CreateDataFolder(string dataPath)
    {
        if (Directory.Exists(dataPath))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dataPath);
        }
        else
        {
            Directory.CreateDirectory(dataPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static string DefaultDetail(int? status, string method) => status switch
    {
        404 => "No route matches this path. GET / lists the entry points; docs/http-api.md lists every route.",
        405 => $"This route does not accept {method}. docs/http-api.md lists the methods of every route.",
        _ => "The request could not be processed. docs/http-api.md describes every route.",
    };

    private static void LogStarted(WebApplication app, ListenUrls urls, string dataPath)
    {
        ICollection<string>? addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category);
        Log.ServerStarted(
            logger,
            StatusEndpoints.Version,
            addresses is { Count: > 0 } ? string.Join(", ", addresses) : urls.Urls,
            urls.Source.ToString(),
            app.Services.GetRequiredService<Durable.Storage.IOrchestrationStore>().Name,
            dataPath);
    }
}
