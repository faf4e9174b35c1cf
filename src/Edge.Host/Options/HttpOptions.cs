using System.Net;
using Microsoft.Extensions.Options;

namespace Edge.Host.Options;

/// <summary>Where /healthz and /metrics listen (section <c>Http</c>).</summary>
public sealed class HttpOptions
{
    public const string SectionName = "Http";

    /// <summary>IP address to bind. Default 127.0.0.1 (loopback only).</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>TCP port, 0–65535 (0: any free port). Default 9464.</summary>
    public int Port { get; set; } = 9464;
}

public sealed class HttpOptionsValidator : IValidateOptions<HttpOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpOptions options)
    {
        var failures = new List<string>();
        if (!IPAddress.TryParse(options.Address, out _))
        {
            failures.Add($"Http:Address must be an IP address (was '{options.Address}')");
        }

        if (options.Port is < 0 or > 65535)
        {
            failures.Add($"Http:Port must be between 0 and 65535 (was {options.Port})");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
