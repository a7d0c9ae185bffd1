using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Tests;

/// <summary>`config set --secret`: Pulumi's passphrase provider (encryptionsalt + secure: values); secrets stay out of outputs.</summary>
public sealed class SecretSpecs : IDisposable
{
    private const string Secret = "s3cr3t-Tr0mb0ne!";

    public SecretSpecs() => Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", "correct horse");

    public void Dispose() => Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", null);

    private static SiteFixture SiteWithSecretSetting()
    {
        var site = SiteFixture.FromRepo();
        site.Write("Pulumi.yaml", site.Read("Pulumi.yaml") + "  motdSecret:\n    type: string\n    description: a test secret\n    default: \"\"\n");
        site.Write("nf/kamailio/nf.yaml", site.Read("nf/kamailio/nf.yaml").Replace("files:\n", "files:\n  - path: /etc/nfd-secret.conf\n    content: \"token={{ config.motdSecret }}\\n\"\n    mode: \"0600\"\n"));
        return site;
    }

    private static App AppIn(SiteFixture site, StringWriter? o = null) => new(new Workspace(site.Dir), o ?? new StringWriter(), new StringWriter(), 4, false);

    [Fact]
    public async Task A_secret_is_stored_encrypted_in_the_stack_file_and_decrypted_for_templates()
    {
        using var site = SiteWithSecretSetting();
        AppIn(site).ConfigSet("lab", "motdSecret", Secret, secret: true);

        var file = site.Read("stacks/Pulumi.lab.yaml");
        file.Should().NotContain(Secret).And.StartWith("encryptionsalt: v1:").And.MatchRegex("  nf-deploy:motdSecret:\n    secure: v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+\n");
        var o = new StringWriter();
        AppIn(site, o).ConfigGet("lab", "motdSecret");
        o.ToString().Should().Be("[secret]\n");

        var hosts = await site.RenderAsync();
        var f = hosts["kamailio-1"].Resources.OfType<FileSpec>().Single(x => x.Path == "/etc/nfd-secret.conf");
        f.Content.Should().Be($"token={Secret}\n");
        f.Secret.Should().BeTrue("a file holding a secret is never diffed or shown");
    }


    [Fact]
    public async Task A_second_secret_reuses_the_stacks_salt_and_outputs_mask_the_values()
    {
        using var site = SiteWithSecretSetting();
        var app = AppIn(site);
        app.ConfigSet("lab", "motdSecret", "first", secret: true);
        var salt = site.Read("stacks/Pulumi.lab.yaml").Split('\n')[0];
        app.ConfigSet("lab", "motdSecret", Secret, secret: true);
        site.Read("stacks/Pulumi.lab.yaml").Split('\n')[0].Should().Be(salt);
        site.Read("stacks/Pulumi.lab.yaml").Split("secure:").Should().HaveCount(2, "the old value was replaced");

        await app.LoadSiteAsync("lab", TestContext.Current.CancellationToken, offline: true);
        app.Redact($"template error near token={Secret}").Should().Be("template error near token=[secret]");
    }

}
