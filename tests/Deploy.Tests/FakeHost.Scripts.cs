using System.Text;
using System.Text.RegularExpressions;
using Deploy.Core.Probes;
using Deploy.Core.Transport;

namespace Deploy.Tests;

/// <summary>How the fake host recognises the providers' scripts (FileProvider, ServiceProvider, HostReader,
/// ContentFetch) by their fixed fragments, and what it answers. Paths and names in the specs need no shell quoting.</summary>
public sealed partial class FakeHost
{
    private const string After = "echo '##nfd:after'\n";

    private (ScriptKind Kind, string Target, ExecResult Result) Answer(string script)
    {
        if (script.StartsWith("exec 2>/dev/null\necho '##nfd:facts'", StringComparison.Ordinal))
            return (ScriptKind.Read, Name, Ok(AnswerRead(script)));
        if (script.StartsWith(HealthCommand, StringComparison.Ordinal))
            return (ScriptKind.Health, script[HealthCommand.Length..].Trim(), Healthy(this) ? Ok("ok\n") : new ExecResult(1, "", "not answering\n"));
        if (script.StartsWith("echo '##nfd:r ", StringComparison.Ordinal) && script.Contains("base64 -w0 <", StringComparison.Ordinal))
            return (ScriptKind.ContentFetch, Name, Ok(AnswerContentFetch(script)));
        if (script.Contains("<<'NFD_EOF'", StringComparison.Ordinal) && script.Contains("base64 -d > \"$tmp\"", StringComparison.Ordinal))
            return Write(script);
        if (ServiceScript().Match(script) is { Success: true } svc)
            return Service(svc, script);
        if (script.StartsWith("set -e\n", StringComparison.Ordinal) && script.Contains(".nfd-rb", StringComparison.Ordinal))
            return Rollback(script);
        if (script.Contains("cp -p -- \"$p\" \"$k.nfd-tmp\"", StringComparison.Ordinal))
            return Keep(script);
        if (script.Contains("cp -p -- \"$k\" \"$p.nfd-restore\"", StringComparison.Ordinal))
            return Restore(script);
        if (Regex.Match(script, "^set -e\nrm -f '([^']*)'$") is { Success: true } rm)
        {
            _files.Remove(rm.Groups[1].Value);
            return (ScriptKind.Delete, rm.Groups[1].Value, Ok(""));
        }
        if (script.Contains("systemctl disable --now", StringComparison.Ordinal))
        {
            var name = Quoted(script, "s=");
            if (_services.TryGetValue(name, out var gone)) _services[name] = gone with { Pid = 0, Active = false, Enabled = false };
            return (ScriptKind.Delete, name, Ok(""));
        }
        throw new InvalidOperationException($"fake host {Name} does not know this script (teach FakeHost):\n{script}");
    }

    private static ExecResult Ok(string stdout) => new(0, stdout, "");

    // ------------------------------------------------------------------ the read round trip

    private string AnswerRead(string script)
    {
        var output = new StringBuilder();
        var body = new StringBuilder();
        string? section = null;
        foreach (var line in script.Split('\n'))
        {
            var marker = Marker().Match(line);
            if (!marker.Success) { body.Append(line).Append('\n'); continue; }
            if (section is not null) output.Append(AnswerSection(section, body.ToString()));
            section = marker.Groups[1].Value;
            body.Clear();
            output.Append("##nfd:").Append(section).Append('\n');
            if (section == "end") break;
        }
        return output.ToString();
    }

    private string AnswerSection(string section, string body) =>
        section == "facts" ? Facts()
        : body.Contains("then echo 'E ", StringComparison.Ordinal) ? FileBatch(body)
        : body.Contains("stat --printf 'owner=", StringComparison.Ordinal) ? FileProbe(Quoted(body, "p="))
        : body.Contains("LoadState", StringComparison.Ordinal) ? ServiceProbe(Quoted(body, "s="))
        : throw new InvalidOperationException($"fake host {Name} does not know the probe of section {section}:\n{body}");

    private string Facts() =>
        $"hostname={Name}\ncodename=bookworm\ninit=sysv\naddr=lo inet 127.0.0.1\naddr=lo inet6 ::1\naddr=eth0 inet {Address}\nroute4=default dev eth0\n";

    private string FileProbe(string path) => _files.GetValueOrDefault(path) is { } f
        ? $"exists=1\nowner={f.Owner}\ngroup={f.Group}\nmode={f.Mode}\nmtime=1700000000\nsha256={f.Sha256}  -\n"
        : "";

    /// <summary>FileProvider.ProbeMany's output: <c>E n</c> per existing file, then their stat and sha256sum lines in order.</summary>
    private string FileBatch(string body)
    {
        var existing = BatchEntry().Matches(body).Select(m => (Path: m.Groups[1].Value, N: m.Groups[2].Value))
            .Where(e => _files.ContainsKey(e.Path)).ToList();
        var sb = new StringBuilder();
        foreach (var e in existing) sb.Append($"E {e.N}\n");
        foreach (var e in existing) sb.Append($"T {_files[e.Path].Owner}|{_files[e.Path].Group}|{_files[e.Path].Mode}|1700000000\n");
        foreach (var e in existing) sb.Append($"{_files[e.Path].Sha256}  {e.Path}\n");
        return sb.ToString();
    }

    private string ServiceProbe(string name) => _services.GetValueOrDefault(name) is { } s
        ? $"exists=1\nactive={(s.Active ? 1 : 0)}\nenabled={(s.Enabled ? 1 : 0)}\nmasked=0\n" + (s.Active ? $"pid={s.Pid}\n" : "")
        : "exists=0\n";

    private string AnswerContentFetch(string script)
    {
        var sb = new StringBuilder();
        foreach (Match m in ContentFetchEntry().Matches(script))
        {
            var content = _files.GetValueOrDefault(m.Groups[2].Value)?.Content ?? "";
            sb.Append("##nfd:r ").Append(m.Groups[1].Value).Append('\n').Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(content))).Append('\n');
        }
        return sb.ToString();
    }

    // ------------------------------------------------------------------ changes

    /// <summary>FileProvider's write: the new content to a temp file, owner and mode, this run's backup of the old
    /// file, the move into place; then the probe after it.</summary>
    private (ScriptKind, string, ExecResult) Write(string script)
    {
        if (script.Contains("if ! out=$(", StringComparison.Ordinal))
            throw new InvalidOperationException($"fake host {Name} cannot run validate commands");
        var path = Quoted(script, "p=");
        var b64 = Regex.Match(script, "<<'NFD_EOF'\n(.*?)\nNFD_EOF", RegexOptions.Singleline).Groups[1].Value;
        var owner = Regex.Match(script, "chown -- '([^':]*):([^']*)' \"\\$tmp\"");
        var mode = Regex.Match(script, "chmod -- ([0-7]+) \"\\$tmp\"").Groups[1].Value;
        var backup = Regex.Match(script, "cp -p \"\\$p\" '([^']*)'");
        if (backup.Success && _files.TryGetValue(path, out var old) && !_files.ContainsKey(backup.Groups[1].Value))
            _files[backup.Groups[1].Value] = old;
        _files[path] = new FakeFile(Encoding.UTF8.GetString(Convert.FromBase64String(b64)), owner.Groups[1].Value, owner.Groups[2].Value, mode);
        return (ScriptKind.Write, path, Ok("##nfd:after\n" + FileProbe(path)));
    }

    /// <summary>ServiceProvider's apply: start or restart gives a new process (or fails, per <see cref="Starts"/>), stop
    /// ends it; then the probe after it.</summary>
    private (ScriptKind, string, ExecResult) Service(Match m, string script)
    {
        var name = m.Groups[1].Value;
        var action = m.Groups[2].Value;
        if (!_services.TryGetValue(name, out var s)) return (ScriptKind.Service, name, new ExecResult(1, "", $"{name}: unrecognized service\n"));
        if (action is "start" or "restart" && !Starts(this, name))
        {
            // as the sysv script does: the old process is gone, the new one did not come up
            _services[name] = s with { Pid = 0, Active = false };
            return (ScriptKind.Service, name, new ExecResult(1, "", $"{name} did not come up after {action}\n"));
        }
        s = action switch
        {
            "start" when s.Active => s,
            "start" or "restart" => s with { Pid = _nextPid++, Active = true },
            "stop" => s with { Pid = 0, Active = false },
            _ => s,
        };
        if (m.Groups[3].Value.Contains("enable", StringComparison.Ordinal)) s = s with { Enabled = true };
        _services[name] = s;
        return (ScriptKind.Service, name, Ok(script.Contains(After, StringComparison.Ordinal) ? "##nfd:after\n" + ServiceProbe(name) : ""));
    }

    /// <summary>FileProvider.RollbackAsync: backups copied back over the files, new files removed.</summary>
    private (ScriptKind, string, ExecResult) Rollback(string script)
    {
        var restored = new List<string>();
        foreach (var line in script.Split('\n'))
        {
            if (RollbackCopy().Match(line) is { Success: true } cp)
            {
                if (_files.TryGetValue(cp.Groups[1].Value, out var b)) _files[cp.Groups[2].Value] = b;
                restored.Add(cp.Groups[2].Value);
            }
            else if (RollbackRemove().Match(line) is { Success: true } rm)
            {
                _files.Remove(rm.Groups[1].Value);
                restored.Add(rm.Groups[1].Value);
            }
            else if (line.Length > 0 && line != "set -e")
                throw new InvalidOperationException($"fake host {Name} does not know this rollback line: {line}");
        }
        return (ScriptKind.Rollback, string.Join(",", restored), Ok(""));
    }

    /// <summary>FileProvider's keep of an adopted file's original: copied once under the adopted root.</summary>
    private (ScriptKind, string, ExecResult) Keep(string script)
    {
        var (path, kept) = (Quoted(script, "p="), Kept(script));
        if (_files.TryGetValue(path, out var original) && !_files.ContainsKey(kept)) _files[kept] = original;
        return (ScriptKind.Keep, path, Ok(""));
    }

    /// <summary>FileProvider's release of an adopted file: the kept original moved back over it.</summary>
    private (ScriptKind, string, ExecResult) Restore(string script)
    {
        var (path, kept) = (Quoted(script, "p="), Kept(script));
        if (_files.Remove(kept, out var original)) _files[path] = original;
        return (ScriptKind.Restore, path, Ok(""));
    }

    private static string Kept(string script) => Regex.Match(script, "; k='([^']*)'").Groups[1].Value;

    private static string Quoted(string script, string assignment)
    {
        // a probe inside the read script starts "{ " (HostReader frames each one in a brace group)
        var m = Regex.Match(script, "^(?:\\{ )?" + Regex.Escape(assignment) + "'([^']*)'", RegexOptions.Multiline);
        return m.Success ? m.Groups[1].Value : throw new InvalidOperationException($"no {assignment}'...' in:\n{script}");
    }

    [GeneratedRegex("^echo '##nfd:([^']+)'$")]
    private static partial Regex Marker();

    [GeneratedRegex("if \\[ -f '([^']*)' \\]; then echo 'E ([0-9]+)'")]
    private static partial Regex BatchEntry();

    [GeneratedRegex("echo '##nfd:r ([^']*)'\nbase64 -w0 < '([^']*)'; echo")]
    private static partial Regex ContentFetchEntry();

    [GeneratedRegex("^s='([^']*)'; pf='[^']*'; action=([a-z]*); boot='([^']*)'; reload=", RegexOptions.Multiline)]
    private static partial Regex ServiceScript();

    [GeneratedRegex("^if \\[ -f '([^']*)' \\]; then cp -p '[^']*' '([^']*)'\\.nfd-rb && mv -f ")]
    private static partial Regex RollbackCopy();

    [GeneratedRegex("^rm -f '([^']*)'$")]
    private static partial Regex RollbackRemove();
}
