using System.Runtime.CompilerServices;
using Deploy.Site.Model;

namespace Deploy.Tests;

internal static class TestEnvironment
{
    /// <summary>No spec reads the real user's ~/.ssh/config (nor do the ./deploy processes they start, which inherit this).</summary>
    [ModuleInitializer]
    internal static void NoUserSshConfig() => Environment.SetEnvironmentVariable(SshConfigFile.PathVariable, "/dev/null");
}
