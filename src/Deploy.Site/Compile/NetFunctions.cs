using System.Globalization;
using System.Net;
using Deploy.Site.Templates;

namespace Deploy.Site.Compile;

/// <summary>Address helpers for templates: <c>ip_network "10.45.0.1/16"</c> is <c>10.45.0.0/16</c> (the network of an
/// address/prefix, IPv4 or IPv6), e.g. Open5GS 2.7's <c>session: - subnet:</c> from a UE pool given as gateway/prefix.</summary>
public static class NetFunctions
{
    public static string IpNetwork(string cidr)
    {
        var parts = (cidr ?? "").Trim().Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
            throw new TemplateFunctionException($"ip_network: '{cidr}' is not an address/prefix such as 10.45.0.1/16");
        var bytes = ip.GetAddressBytes();
        if (prefix > bytes.Length * 8)
            throw new TemplateFunctionException($"ip_network: prefix /{prefix} is too long for {parts[0]}");
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return $"{new IPAddress(bytes)}/{prefix}";
    }
}
