using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Site.Compile;

namespace Deploy.Tests;

/// <summary>
/// Apt signing keys are trust anchors: taken from https://, from a file of the project, or from plain http:// only when
/// pinned by their fingerprint; a pinned fingerprint is checked on every load, fetched or cached. Only loopback is
/// contacted (a closed port: a fetch that happens fails).
/// </summary>
[Collection(PassphraseEnvironment.Name)]
public sealed class ControllerTrustAnchorSpecs : IDisposable
{
    private readonly SiteFixture _site = SiteFixture.FromRepo();

    public ControllerTrustAnchorSpecs()
    {
        // prod-example's EPC needs the Open5GS repository's key too: cached, as a site that fetched it once has it
        var open5gs = Cached("https://download.opensuse.org/repositories/home:/acetcom:/open5gs:/latest/Debian_12/Release.key");
        _site.Write(Path.GetRelativePath(_site.Dir, open5gs), TestKeys.Armored + "\n");
    }

    public void Dispose() => _site.Dispose();

    private const string Unreachable = "127.0.0.1:9";

    /// <summary>The prod-example stack loaded with the real fetcher (its cache under the project), the keys as the settings say.</summary>
    private Task<SiteProgram> LoadAsync(bool offline = false)
    {
        return SiteLoader.LoadAsync(_site.Dir, "prod-example", new HttpKeyFetcher(Path.Combine(_site.Dir, ".nf-deploy/cache/keys"), new HttpClient(), offline),
            null, TestContext.Current.CancellationToken, () => SiteFixture.LabPassphrase);
    }

    private ControllerTrustAnchorSpecs Set(string key, string value)
    {
        Deploy.Site.Model.StackConfig.Edit(_site.Dir, Deploy.Site.Model.ProjectFile.Load(_site.Dir), "prod-example", key, value);
        return this;
    }

    private int Line(string file, string text) => Array.FindIndex(_site.Read(file).Split('\n'), l => l.Contains(text, StringComparison.Ordinal)) + 1;

    private static string KeyOf(SiteProgram site) =>
        site.Materialize(site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed()), CancellationToken.None)
            .SelectMany(h => h.Resources).OfType<Deploy.Resources.FileSpec>().First(f => f.Path == "/etc/apt/keyrings/kamailio.asc").Content;

    [Fact]
    public async Task The_default_key_urls_are_https()
    {
        var project = Deploy.Site.Model.ProjectFile.Load(_site.Dir);
        project.Settings["kamailioRepoKey"].Default.Should().Be("https://deb.kamailio.org/kamailiodebkey.gpg");
        ((string)project.Settings["open5gsRepoKey"].Default!).Should().StartWith("https://");
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_key_over_plain_http_without_a_fingerprint_is_refused_at_its_line()
    {
        Set("kamailioRepoKey", $"http://{Unreachable}/kamailiodebkey.gpg");
        var before = FaultCatalogueSpecs.Snapshot(_site.Dir);

        var act = () => LoadAsync();

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            $"nf/kamailio/nf.yaml:{Line("nf/kamailio/nf.yaml", "url: \"{{ config.kamailioRepoKey }}\"")}: apt key 'kamailio': http://{Unreachable}/kamailiodebkey.gpg is plain HTTP, " +
            "which anyone on the way can replace: use https://, a key file in the project, or pin the key with its fingerprint (the apt key's 'fingerprint:')");
        FaultCatalogueSpecs.Snapshot(_site.Dir).Should().Equal(before);
    }

    [Fact]
    public async Task A_key_file_of_the_project_pinned_by_its_fingerprint_is_the_hosts_key()
    {
        _site.Write("keys/kamailio.asc", TestKeys.Armored + "\n");
        Set("kamailioRepoKey", "keys/kamailio.asc").Set("kamailioRepoKeyFingerprint", "3960 0F78 1EB6 5BED 05A4  3574 EB22 28C4 7D05 1243");

        var site = await LoadAsync();

        KeyOf(site).Should().Be(TestKeys.Armored + "\n");
    }

    [Fact]
    public async Task A_key_with_another_fingerprint_is_refused()
    {
        _site.Write("keys/kamailio.asc", TestKeys.OtherArmored + "\n");
        Set("kamailioRepoKey", "file://" + Path.Combine(_site.Dir, "keys/kamailio.asc")).Set("kamailioRepoKeyFingerprint", TestKeys.Fingerprint);

        var act = () => LoadAsync();

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            $"nf/kamailio/nf.yaml:{Line("nf/kamailio/nf.yaml", "- name: kamailio")}: apt key keys/kamailio.asc has fingerprint {TestKeys.OtherFingerprint}, " +
            $"not the pinned {TestKeys.Fingerprint}: refused (a key replaced on the way, or a stale cache in .nf-deploy/cache/keys/)");
    }

    [Fact]
    public async Task A_key_file_with_a_second_key_appended_is_refused()
    {
        _site.Write("keys/kamailio.asc", TestKeys.Armored + "\n" + TestKeys.OtherArmored + "\n");
        Set("kamailioRepoKey", "keys/kamailio.asc").Set("kamailioRepoKeyFingerprint", TestKeys.Fingerprint);

        var act = () => LoadAsync();

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().EndWith(
            "keys/kamailio.asc is not an ASCII-armored OpenPGP public key (one '-----BEGIN PGP PUBLIC KEY BLOCK-----' block and nothing else)");
    }

    [Fact]
    public async Task A_private_key_of_the_controller_named_as_apt_key_is_refused_without_showing_it()
    {
        _site.Write(".nf-deploy/pki/prod/ca.key.pem", "-----BEGIN PRIVATE KEY-----\nTHE-CA-KEY\n-----END PRIVATE KEY-----\n");
        Set("kamailioRepoKey", ".nf-deploy/pki/prod/ca.key.pem");

        var act = () => LoadAsync();

        var message = (await act.Should().ThrowAsync<SiteException>()).Which.Message;
        message.Should().EndWith("ca.key.pem is not an ASCII-armored OpenPGP public key (one '-----BEGIN PGP PUBLIC KEY BLOCK-----' block and nothing else)");
        message.Should().NotContain("THE-CA-KEY");
    }

    /// <summary>The cache file the fetcher keeps for a URL.</summary>
    private string Cached(string url) => Path.Combine(_site.Dir, ".nf-deploy/cache/keys",
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(url)))[..24] + ".asc");

    [Fact]
    public async Task A_cached_key_is_checked_against_the_fingerprint_before_it_is_used()
    {
        var url = $"https://{Unreachable}/kamailiodebkey.gpg";
        Set("kamailioRepoKey", url).Set("kamailioRepoKeyFingerprint", TestKeys.Fingerprint);
        _site.Write(Path.GetRelativePath(_site.Dir, Cached(url)), TestKeys.Armored + "\n");

        (KeyOf(await LoadAsync())).Should().Be(TestKeys.Armored + "\n", "the cached key has the pinned fingerprint: used without fetching");

        _site.Write(Path.GetRelativePath(_site.Dir, Cached(url)), TestKeys.OtherArmored + "\n");
        var act = () => LoadAsync();
        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().StartWith(
            $"nf/kamailio/nf.yaml:{Line("nf/kamailio/nf.yaml", "- name: kamailio")}: cannot fetch apt key {url}: ", "a cached key of another fingerprint is fetched again (here: nothing answers)");

        var offline = () => LoadAsync(offline: true);
        (await offline.Should().ThrowAsync<SiteException>()).Which.Message.Should().Contain($"has fingerprint {TestKeys.OtherFingerprint}, not the pinned {TestKeys.Fingerprint}");
    }

    [Fact]
    public async Task A_secret_key_url_is_masked_in_the_fetch_error()
    {
        var set = await DeployProcess.RunAsync(_site.Dir, null, "config", "set", "kamailioRepoKey", $"https://deploy:TOKEN-user-s3cr3t@{Unreachable}/TOKEN-path-s3cr3t/key.gpg", "--secret", "--stack", "prod-example");
        set.Exit.Should().Be(0, set.Stderr);

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(_site.Dir, null, "preview", "--stack", "prod-example");

        (exit, stdout).Should().Be((1, ""));
        stderr.Should().StartWith($"error: nf/kamailio/nf.yaml:{Line("nf/kamailio/nf.yaml", "- name: kamailio")}: cannot fetch apt key [secret]: ");
        stderr.Should().NotContain("TOKEN").And.NotContain("s3cr3t");
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().ContainSingle();
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:9/key.gpg", "ftp://127.0.0.1:9/key.gpg: only https://, file:// (a file of the project) or http:// with a fingerprint are accepted")]
    [InlineData("file:///etc/passwd", "file '/etc/passwd' is outside the project")]
    [InlineData("../../../../etc/passwd", "file '../../../../etc/passwd' is outside the project")]
    public async Task Other_key_sources_are_refused(string url, string problem)
    {
        Set("kamailioRepoKey", url);

        var act = () => LoadAsync();

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            $"nf/kamailio/nf.yaml:{Line("nf/kamailio/nf.yaml", "url: \"{{ config.kamailioRepoKey }}\"")}: apt key 'kamailio': {problem}");
    }

    [Fact]
    public async Task A_missing_key_file_is_named_relative_to_the_project()
    {
        Set("kamailioRepoKey", ".nf-deploy/lab/mirror-key.asc");

        var act = () => LoadAsync();

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            $"nf/kamailio/nf.yaml:{Line("nf/kamailio/nf.yaml", "- name: kamailio")}: apt key file .nf-deploy/lab/mirror-key.asc not found");
    }

    [Fact]
    public void Fingerprints_are_computed_as_gpg_shows_them()
    {
        OpenPgpKey.Fingerprints(TestKeys.Armored, "k").Should().Equal(TestKeys.Fingerprint);
        OpenPgpKey.Fingerprints(TestKeys.OtherArmored, "k").Should().Equal(TestKeys.OtherFingerprint);
    }
}
