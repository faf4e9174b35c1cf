using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Edge.Audit.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Edge.Audit.Security;

/// <summary>
/// API roles. kiosk: none of the API; supervisor: review; analyst: summaries and export; metrics: only <c>/metrics</c>
/// (a Prometheus scrape token that reads no event); admin: everything.
/// </summary>
public static class Roles
{
    public const string Kiosk = "kiosk";
    public const string Supervisor = "supervisor";
    public const string Analyst = "analyst";
    public const string Metrics = "metrics";
    public const string Admin = "admin";

    public static readonly string[] All = [Kiosk, Supervisor, Analyst, Metrics, Admin];

    public static bool IsValid(string? role) => role is not null && Array.IndexOf(All, role) >= 0;
}

/// <summary>Authorisation policies the endpoints name.</summary>
public static class Policies
{
    public const string ReadEvents = "read-events";
    public const string Review = "review";
    public const string Analytics = "analytics";
    public const string Metrics = "metrics";
    public const string Admin = "admin";
}

/// <summary>API tokens: 32 random bytes, shown once; only their SHA-256 is stored.</summary>
public static class ApiTokens
{
    public const string Prefix = "eat_";

    public static string Generate() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Creates a token in the store and returns the clear text (the only time it exists).</summary>
    public static async Task<(long Id, string Token)> CreateAsync(IAuditStore store, string owner, string role, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Roles.IsValid(role))
        {
            throw new ArgumentException($"role must be one of {string.Join(", ", Roles.All)}", nameof(role));
        }

        if (string.IsNullOrWhiteSpace(owner) || owner.Length > 128)
        {
            throw new ArgumentException("owner must be 1..128 characters", nameof(owner));
        }

        var token = Generate();
        var id = await store.CreateTokenAsync(owner, role, Hash(token), time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        return (id, token);
    }
}

/// <summary><c>Authorization: Bearer eat_…</c> → the token's owner and role, looked up by hash.</summary>
internal sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IAuditStore store,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "EdgeToken";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > 200)
        {
            return AuthenticateResult.Fail("Authorization must be 'Bearer <token>'");
        }

        var token = header["Bearer ".Length..].Trim();
        var row = await store.FindTokenAsync(ApiTokens.Hash(token), Context.RequestAborted);
        if (row is null)
        {
            return AuthenticateResult.Fail("unknown or revoked token");
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, row.Owner), new Claim(ClaimTypes.Role, row.Role), new Claim("token_id", row.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 401, Title = "Unauthorized", Detail = "A valid API token is required (Authorization: Bearer <token>)." },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 403, Title = "Forbidden", Detail = "This token's role may not use this endpoint." },
        });
    }
}
