using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Deploy.Core.Model;
using Docker.DotNet;

namespace Deploy.Lab;

/// <summary>Turns Docker.DotNet and transport failures into messages a user can act on.</summary>
internal static class DockerErrors
{
    public static DeployException Unreachable(Uri endpoint, Exception inner) =>
        new($"docker engine not reachable at {endpoint}: start dockerd (scripts/setup-controller.sh does)", inner);

    public static bool IsNotFound(Exception e) => e is DockerApiException { StatusCode: HttpStatusCode.NotFound };

    public static bool IsConflict(Exception e) => e is DockerApiException { StatusCode: HttpStatusCode.Conflict };

    /// <summary>Wraps any failure but cancellation and <see cref="DeployException"/> into a DeployException
    /// whose message starts with <paramref name="doing"/>.</summary>
    public static Exception Translate(Exception e, string doing, Uri endpoint) => e switch
    {
        DeployException or OperationCanceledException => e,
        DockerApiException api => new DeployException($"{doing}: docker: {ApiMessage(api)}", api),
        HttpRequestException or SocketException or IOException when !File.Exists(endpoint.LocalPath) || IsRefused(e)
            => Unreachable(endpoint, e),
        HttpRequestException or SocketException or IOException => new DeployException($"{doing}: docker: {e.Message}", e),
        _ => e,
    };

    private static bool IsRefused(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.AddressNotAvailable })
                return true;
        return false;
    }

    private static string ApiMessage(DockerApiException e)
    {
        try
        {
            using var doc = JsonDocument.Parse(e.ResponseBody);
            if (doc.RootElement.TryGetProperty("message", out var m) && m.GetString() is { Length: > 0 } text)
                return text;
        }
        catch (JsonException)
        {
        }
        return string.IsNullOrWhiteSpace(e.ResponseBody) ? e.StatusCode.ToString() : e.ResponseBody.Trim();
    }
}
