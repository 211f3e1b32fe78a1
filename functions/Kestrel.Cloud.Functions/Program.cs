using Kestrel.Cloud.Functions;
using Microsoft.AspNetCore.Builder;

WebApplication app;
try
{
    app = KestrelCloudApp.Build(args);
}
catch (InvalidOperationException ex)
{
    // Configuration errors: print what is wrong and how to fix it, without a stack trace.
    Console.Error.WriteLine(ex.Message);
    return 1;
}

await app.RunAsync();
return 0;
