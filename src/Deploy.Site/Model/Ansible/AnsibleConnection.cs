using System.Globalization;
using System.Text.RegularExpressions;
using Deploy.Core.Model;

namespace Deploy.Site.Model.Ansible;

/// <summary>How nf-deploy reaches a host of an Ansible inventory.</summary>
public sealed record AnsibleReach(string Address, int? Port, string? User, string? Key, AnsibleJump? Jump);

/// <summary>
/// Ansible's connection vars mapped to nf-deploy's SSH settings: <c>ansible_host</c>, <c>ansible_port</c>,
/// <c>ansible_user</c>, <c>ansible_ssh_private_key_file</c> and a <c>ProxyJump</c> in <c>ansible_ssh_common_args</c> (or
/// <c>_extra_args</c>). Each value is checked for its shape and refused at its file:line otherwise; nothing of it is
/// handed to a shell or to ssh as options.
/// </summary>
public static partial class AnsibleConnection
{
    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.:-]{0,251}[A-Za-z0-9.])?)$")]
    private static partial Regex AddressShape();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")]
    private static partial Regex UserShape();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")]
    private static partial Regex NameShape();

    [GeneratedRegex(@"^\d{1,3}(\.\d{1,3}){3}$")]
    private static partial Regex Ipv4();

    /// <summary>Vars Ansible uses for passwords: nf-deploy authenticates with keys and elevates with sudo.</summary>
    private static readonly string[] Passwords =
        ["ansible_password", "ansible_ssh_pass", "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass"];

    /// <returns>Null for a host that is not reached over SSH (<c>ansible_connection: local</c>...), skipped with a warning.</returns>
    public static AnsibleReach? Read(
        AnsibleHostSource host, string entry, int? entryPort, Dictionary<string, AnsibleVar> vars, List<SiteWarning> warnings)
    {
        AnsibleVar? Var(params string[] keys) => keys.Select(vars.GetValueOrDefault).FirstOrDefault(v => v is not null);
        SiteException Refused(string[] keys, string message) =>
            new(Var(keys)?.File ?? host.File, Var(keys)?.Line ?? host.Line, message);
        string? Text(params string[] keys)
        {
            if (Var(keys) is not { } v) return null;
            var text = v.Value switch
            {
                string s => s,
                long or double => Convert.ToString(v.Value, CultureInfo.InvariantCulture)!,
                _ => throw Refused(keys, $"{keys[0]} must be a single value"),
            };
            if (text.Contains("{{", StringComparison.Ordinal) || text.Contains("{%", StringComparison.Ordinal))
                throw Refused(keys, $"{keys[0]} holds a Jinja expression, which nf-deploy does not evaluate: write the value itself");
            if (text.Any(char.IsControl)) throw Refused(keys, $"{keys[0]} holds control characters");
            return text;
        }
        if (Text("ansible_connection") is { } connection && connection is not ("ssh" or "smart" or "paramiko"))
        {
            var at = vars["ansible_connection"];
            warnings.Add(new SiteWarning(at.File, at.Line,
                $"host '{entry}' is reached with ansible_connection={connection}: nf-deploy reaches hosts over SSH only, so it is left out"));
            return null;
        }
        foreach (var password in Passwords.Where(vars.ContainsKey))
            warnings.Add(new SiteWarning(vars[password].File, vars[password].Line,
                $"{password} is not used: nf-deploy logs in with SSH keys and elevates with sudo (NOPASSWD)"));

        string[] hostKeys = ["ansible_host", "ansible_ssh_host"], portKeys = ["ansible_port", "ansible_ssh_port"];
        string[] userKeys = ["ansible_user", "ansible_ssh_user"];
        var address = Text(hostKeys) ?? entry;
        if (!AddressShape().IsMatch(address)) throw Refused(hostKeys, $"'{SiteNames.Printable(address)}' is not a host name or IP address");
        var port = entryPort;
        if (Text(portKeys) is { } portText)
            port = int.TryParse(portText, out var p) && p is > 0 and < 65536 ? p : throw Refused(portKeys, $"ansible_port '{portText}' is not a port");
        var user = Text(userKeys);
        if (user is not null && !UserShape().IsMatch(user)) throw Refused(userKeys, $"ansible_user '{SiteNames.Printable(user)}' is not a user name");
        var key = Text("ansible_ssh_private_key_file", "ansible_private_key_file");
        AnsibleJump? jump = null;
        foreach (var argsKey in new[] { "ansible_ssh_common_args", "ansible_ssh_extra_args" })
            if (Text(argsKey) is { } args)
                jump = Jump(args, vars[argsKey], argsKey, warnings) ?? jump;
        return new AnsibleReach(address, port, user, key, jump);
    }

    /// <summary>The <c>ProxyJump</c> of ssh arguments (<c>-o ProxyJump=[user@]host[:port]</c> or <c>-J ...</c>); other
    /// options are not used (a warning says so), and a <c>ProxyCommand</c>, which is code, is refused.</summary>
    private static AnsibleJump? Jump(string args, AnsibleVar at, string key, List<SiteWarning> warnings)
    {
        var words = args.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(w => w.Trim('\'', '"')).ToList();
        AnsibleJump? jump = null;
        for (var i = 0; i < words.Count; i++)
        {
            string? option = words[i] switch
            {
                "-o" when i + 1 < words.Count => words[++i],
                var w when w.StartsWith("-o", StringComparison.Ordinal) && w.Length > 2 => w[2..],
                "-J" when i + 1 < words.Count => "ProxyJump=" + words[++i],
                _ => null,
            };
            if (option is null)
            {
                warnings.Add(new SiteWarning(at.File, at.Line, $"{key}: '{words[i]}' is not used (only ProxyJump is)"));
                continue;
            }
            var eq = option.IndexOfAny(['=', ' ']);
            var (name, value) = eq < 0 ? (option, "") : (option[..eq], option[(eq + 1)..]);
            if (name.Equals("ProxyCommand", StringComparison.OrdinalIgnoreCase))
                throw new SiteException(at.File, at.Line,
                    $"{key}: a ProxyCommand is a command, which nf-deploy does not run: use -o ProxyJump=[user@]host[:port]");
            if (!name.Equals("ProxyJump", StringComparison.OrdinalIgnoreCase))
            {
                warnings.Add(new SiteWarning(at.File, at.Line, $"{key}: option '{name}' is not used (only ProxyJump is)"));
                continue;
            }
            if (value.Contains(',')) throw new SiteException(at.File, at.Line, $"{key}: ProxyJump through more than one host is not supported");
            var userAt = value.LastIndexOf('@');
            var user = userAt > 0 ? value[..userAt] : null;
            var hostPort = value[(userAt + 1)..];
            var colon = hostPort.LastIndexOf(':');
            int? port = null;
            if (colon > 0 && !hostPort.EndsWith(']') && hostPort.Count(c => c == ':') == 1)
            {
                port = int.TryParse(hostPort[(colon + 1)..], out var p) && p is > 0 and < 65536 ? p
                    : throw new SiteException(at.File, at.Line, $"{key}: ProxyJump port '{hostPort[(colon + 1)..]}' is not a port");
                hostPort = hostPort[..colon];
            }
            if (!AddressShape().IsMatch(hostPort) || user is not null && !UserShape().IsMatch(user))
                throw new SiteException(at.File, at.Line, $"{key}: ProxyJump '{SiteNames.Printable(value)}' is not [user@]host[:port]");
            jump = new AnsibleJump(hostPort, port, user, at.File, at.Line);
        }
        return jump;
    }

    /// <summary>nf-deploy's name for an inventory host: the entry itself when it is a plain name; an FQDN's first label
    /// (<c>sip-a.example.net</c> → <c>sip-a</c>); an IPv4 address with dashes (<c>192.0.2.7</c> → <c>192-0-2-7</c>).</summary>
    public static string Name(string entry, string file, int line)
    {
        if (NameShape().IsMatch(entry)) return entry;
        if (Ipv4().IsMatch(entry)) return entry.Replace('.', '-');
        var label = entry.Split('.')[0];
        return entry.Contains('.') && NameShape().IsMatch(label) ? label
            : throw new SiteException(file, line, $"'{SiteNames.Printable(entry)}' cannot be a host name of nf-deploy (letters, digits and '-'): " +
                "give it an alias (alias ansible_host=...)");
    }
}
