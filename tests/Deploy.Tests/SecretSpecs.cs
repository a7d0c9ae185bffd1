using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>`config set --secret`: Pulumi's passphrase provider (encryptionsalt + secure: values); secrets stay out of outputs.</summary>
public sealed class SecretSpecs : IDisposable
{
    private const string Secret = "s3cr3t-Tr0mb0ne!";

    public SecretSpecs() => Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", SiteFixture.LabPassphrase);

    public void Dispose() => Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", null);

    private static SiteFixture SiteWithSecretSetting()
    {
        var site = SiteFixture.FromRepo();
        site.Passphrase = Deploy.Site.Secrets.PassphraseCrypter.PassphraseFromEnvironment;
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
        o.ToString().Should().Be(Secret + "\n", "config get prints a secret's value, as Pulumi's does (listings mask it)");

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
        site.Read("stacks/Pulumi.lab.yaml").Split("secure:").Should().HaveCount(4, "the old value was replaced (the lab stack holds two secrets of its own)");

        site.Write(".nf-deploy/lab/mirror-key.asc", TestKeys.Armored + "\n"); // as scripts/lab-up copies the lab mirror's key
        await app.LoadSiteAsync("lab", TestContext.Current.CancellationToken, offline: true);
        app.Redact($"template error near token={Secret}").Should().Be("template error near token=[secret]");
    }

    /// <summary>The encryptionsalt of pulumi/pulumi's own passphrase-manager tests (pkg/secrets/passphrase), made by
    /// the real Pulumi CLI code with the passphrase "password": the same derivation and sealing must open it.</summary>
    private const string PulumiMadeSalt = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==";

    [Fact]
    public void A_salt_written_by_pulumi_itself_opens_with_its_passphrase_and_refuses_another()
    {
        var open = () => Deploy.Site.Secrets.PassphraseCrypter.Open("password", PulumiMadeSalt, "pulumi-made");
        open.Should().NotThrow();

        var wrong = () => Deploy.Site.Secrets.PassphraseCrypter.Open("password123", PulumiMadeSalt, "pulumi-made");
        wrong.Should().Throw<DeployException>().WithMessage("stack pulumi-made: incorrect passphrase (PULUMI_CONFIG_PASSPHRASE does not open this stack's secrets)");
    }

    [Fact]
    public void An_empty_passphrase_counts_as_none_as_in_pulumi()
    {
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", "");
        Deploy.Site.Secrets.PassphraseCrypter.PassphraseFromEnvironment().Should().BeNull();
    }
}
