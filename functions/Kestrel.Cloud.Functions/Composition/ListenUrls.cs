using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Kestrel.Cloud.Functions.Composition;

/// <summary>Where the listening URLs came from.</summary>
public enum ListenUrlSource
{
    /// <summary><c>FUNCTIONS_CUSTOMHANDLER_PORT</c>: the Azure Functions host started the app as a custom handler.</summary>
    FunctionsCustomHandler,

    /// <summary>The standard ASP.NET Core setting (<c>ASPNETCORE_URLS</c>, <c>--urls</c>, <c>urls</c>).</summary>
    AspNetCore,

    /// <summary><c>KestrelCloud:Urls</c>, or its default.</summary>
    KestrelCloud,
}

/// <summary>The listening URLs and why they were chosen.</summary>
/// <param name="Urls">Semicolon-separated URLs.</param>
/// <param name="Source">Which setting chose them.</param>
public sealed record ListenUrls(string Urls, ListenUrlSource Source)
{
    /// <summary>The environment variable the Azure Functions host sets for a custom handler.</summary>
    public const string CustomHandlerPortVariable = "FUNCTIONS_CUSTOMHANDLER_PORT";

    /// <summary>
    /// Chooses the URLs: <c>FUNCTIONS_CUSTOMHANDLER_PORT</c> (127.0.0.1 at that port) wins, because the Functions host
    /// only talks to that port; then the standard <c>urls</c> setting; then <c>KestrelCloud:Urls</c> (default
    /// <see cref="KestrelCloudOptions.DefaultUrl"/>).
    /// </summary>
    public static ListenUrls Resolve(IConfiguration configuration, KestrelCloudOptions options)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        string? port = configuration[CustomHandlerPortVariable];
        if (!string.IsNullOrWhiteSpace(port))
        {
            if (!int.TryParse(port.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
            {
                throw new InvalidOperationException(
                    $"{CustomHandlerPortVariable} must be a TCP port between 1 and 65535; it is '{port}'. The Azure Functions host sets it; unset it to run standalone.");
            }

            return new ListenUrls($"http://127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}", ListenUrlSource.FunctionsCustomHandler);
        }

        string? aspNetCoreUrls = configuration["urls"];
        if (!string.IsNullOrWhiteSpace(aspNetCoreUrls))
        {
            return new ListenUrls(aspNetCoreUrls, ListenUrlSource.AspNetCore);
        }

        return new ListenUrls(options.Urls, ListenUrlSource.KestrelCloud);
    }
}
