using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Edge.Audit.Api;

/// <summary>The review page: three files embedded in the assembly, served with a strict CSP (no CDN, works offline).</summary>
public static class ReviewPage
{
    private static readonly (string Path, string Resource, string ContentType)[] Files =
    [
        ("/review/", "index.html", "text/html; charset=utf-8"),
        ("/review/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/review/app.css", "app.css", "text/css; charset=utf-8"),
    ];

    public static IEndpointRouteBuilder MapReviewPage(this IEndpointRouteBuilder app)
    {
        foreach (var (path, resource, type) in Files)
        {
            var bytes = Load(resource);
            app.MapGet(path, (HttpContext context) =>
            {
                context.Response.Headers.ContentSecurityPolicy =
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
                context.Response.Headers.XContentTypeOptions = "nosniff";
                context.Response.Headers.CacheControl = "no-cache";
                return TypedResults.Bytes(bytes, type);
            }).ExcludeFromDescription();
        }

        app.MapGet("/", () => TypedResults.Redirect("/review/")).ExcludeFromDescription();
        return app;
    }

    private static byte[] Load(string name)
    {
        var assembly = Assembly.GetExecutingAssembly();
        using var stream = assembly.GetManifestResourceStream("Edge.Audit.Web." + name)
            ?? throw new InvalidOperationException($"embedded review page file {name} is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
