using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Deploy.Core.Lab;
using Deploy.Core.Model;

namespace Deploy.Lab;

/// <summary>Checks a lab spec before anything is created, so that mistakes read as mistakes and not as Docker
/// errors.</summary>
internal static partial class LabSpecValidation
{
    public static void CheckStack(string stack)
    {
        if (!StackName().IsMatch(stack))
            throw new DeployException($"lab stack name '{stack}' is invalid: use letters, digits, '.', '_' or '-', starting with a letter or digit");
    }

    public static IPAddress Check(LabSpec lab, LabHostSpec host)
    {
        CheckStack(lab.Stack);
        var where = $"lab stack {lab.Stack}: host {host.Name}";
        if (!HostName().IsMatch(host.Name))
            throw new DeployException($"{where}: the name is not a valid hostname (letters, digits and '-', at most 63)");
        if (!IPNetwork.TryParse(lab.Subnet, out var subnet) || subnet.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
            throw new DeployException($"lab stack {lab.Stack}: subnet '{lab.Subnet}' is not an IPv4 CIDR such as 10.211.0.0/24");
        var gateway = ParseIn(subnet, lab.Gateway, $"lab stack {lab.Stack}: gateway");
        var address = ParseIn(subnet, host.Address, $"{where}: address");
        if (address.Equals(gateway))
            throw new DeployException($"{where}: address {host.Address} is the gateway's (the controller's) address");
        if (!UserName().IsMatch(host.LoginUser))
            throw new DeployException($"{where}: login user '{host.LoginUser}' is not a valid user name");
        if (string.IsNullOrWhiteSpace(lab.AuthorizedKey) || lab.AuthorizedKey.Trim().Contains('\n'))
            throw new DeployException($"lab stack {lab.Stack}: the authorized key must be one OpenSSH public key line");
        if (!Uri.TryCreate(lab.AptProxy, UriKind.Absolute, out var proxy) || proxy.Scheme != Uri.UriSchemeHttp)
            throw new DeployException($"lab stack {lab.Stack}: apt proxy '{lab.AptProxy}' is not an http:// URL");
        foreach (var device in host.Devices.IsDefault ? [] : host.Devices)
            if (!File.Exists(device))
                throw new DeployException($"{where}: device {device} does not exist on this machine (the lab passes it into the container)");
        return address;
    }

    private static IPAddress ParseIn(IPNetwork subnet, string text, string what)
    {
        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
            throw new DeployException($"{what} '{text}' is not an IPv4 address");
        if (!subnet.Contains(ip))
            throw new DeployException($"{what} {text} is outside the lab subnet {subnet}");
        return ip;
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    private static partial Regex StackName();

    [GeneratedRegex("^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")]
    private static partial Regex HostName();

    [GeneratedRegex("^[a-z_][a-z0-9_-]{0,31}$")]
    private static partial Regex UserName();
}
