namespace Deploy.Lab;

/// <summary>
/// A lab host's /etc/hosts, kept on the controller and bind-mounted: Docker writes its own /etc/hosts again each time
/// a container starts, so what the deployer wrote there (a managed block: DMQ or Diameter names) would be lost by a
/// reboot, which a real host keeps. The file starts as Docker's would (localhost, the host's name, the controller).
/// </summary>
internal static class LabHostsFile
{
    public static string PathFor(string stateDir, string containerName) =>
        Path.Combine(stateDir, "lab-hosts", containerName + ".hosts");

    /// <summary>Writes the initial file (replacing one left by a removed container of that name); returns the bind.</summary>
    public static string Create(string stateDir, string containerName, string hostname, string address, string gateway)
    {
        var path = PathFor(stateDir, containerName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n" +
            "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" +
            $"{gateway}\tnf-deploy-controller\n{address}\t{hostname}\n");
        return $"{path}:/etc/hosts";
    }

    public static void Delete(string stateDir, string containerName)
    {
        try { File.Delete(PathFor(stateDir, containerName)); }
        catch (IOException) { } // a leftover file is rewritten when the name is used again
        catch (UnauthorizedAccessException) { }
    }
}
