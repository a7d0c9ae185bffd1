namespace Deploy.Site.Model;

/// <summary>Something in the site files that is most likely a mistake but does not stop the run (an unknown var, a
/// setting still at its placeholder): printed on stderr with its file and line, never failing the verb.</summary>
public sealed record SiteWarning(string File, int Line, string Message)
{
    public override string ToString() => (Line > 0 ? $"{File}:{Line}: " : $"{File}: ") + Message;
}

/// <summary>Where a var was set (a key of a <c>vars:</c> block of the inventory or a role, or of an Ansible inventory).</summary>
public sealed record VarSite(string Key, string File, int Line);
