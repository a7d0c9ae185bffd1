namespace Deploy.Lab;

/// <summary>Where the Docker engine is and how lab hosts are built. The defaults fit a controller prepared by
/// scripts/setup-controller.sh.</summary>
/// <param name="DockerEndpoint">Docker engine API endpoint (the engine speaks API 1.41).</param>
/// <param name="StateDir">Controller directory for the image build lock and the temporary debootstrap root.</param>
/// <param name="DebianMirror">Mirror debootstrap installs the base image from.</param>
/// <param name="Suite">Debian suite of the base image.</param>
/// <param name="SshTimeout">How long a started host may take until its sshd answers.</param>
public sealed record DockerLabOptions(
    Uri DockerEndpoint,
    string StateDir,
    string DebianMirror,
    string Suite,
    TimeSpan SshTimeout)
{
    public static DockerLabOptions Default { get; } = new(
        new Uri("unix:///var/run/docker.sock"),
        "/var/lib/nf-deploy",
        "http://deb.debian.org/debian",
        "bookworm",
        TimeSpan.FromSeconds(30));
}
