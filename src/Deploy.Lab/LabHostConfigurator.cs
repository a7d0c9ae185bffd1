namespace Deploy.Lab;

/// <summary>What a fresh lab host gets before the deployer logs in: the apt proxy, root's key, and the login user
/// with passwordless sudo and the same key. Idempotent shell, values passed as environment variables.</summary>
internal sealed class LabHostConfigurator(ContainerExec exec)
{
    private const string Script = """
        set -eu
        printf 'Acquire::http::Proxy "%s";\nAcquire::http::Proxy::%s "DIRECT";\n' "$NFD_PROXY" "$NFD_GATEWAY" \
            > /etc/apt/apt.conf.d/01nf-deploy-proxy
        install_key() { # home owner
            mkdir -p "$1/.ssh"
            chmod 0700 "$1/.ssh"
            printf '%s\n' "$NFD_KEY" > "$1/.ssh/authorized_keys"
            chmod 0600 "$1/.ssh/authorized_keys"
            chown -R "$2:" "$1/.ssh"
        }
        install_key /root root
        if [ "$NFD_USER" != root ]; then
            id -u "$NFD_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$NFD_USER"
            usermod -p '*' "$NFD_USER"  # no password, but not locked: key login only
            printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$NFD_USER" > /etc/sudoers.d/nf-deploy
            chmod 0440 /etc/sudoers.d/nf-deploy
            install_key "$(getent passwd "$NFD_USER" | cut -d: -f6)" "$NFD_USER"
        fi
        """;

    public Task ConfigureAsync(string containerId, string gateway, string aptProxy, string authorizedKey, string loginUser,
        CancellationToken ct) =>
        exec.RunCheckedAsync(containerId, "configuring the lab host (apt proxy, keys, login user)", Script,
            new Dictionary<string, string>
            {
                ["NFD_PROXY"] = aptProxy,
                ["NFD_GATEWAY"] = gateway,
                ["NFD_KEY"] = authorizedKey.Trim(),
                ["NFD_USER"] = loginUser,
            }, ct);
}
