using System.Collections.Immutable;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Core.Transport;

namespace Deploy.Integration.Tests;

/// <summary>
/// UAC registration on the lab's IMS box: the S-CSCF registers to a SIP trunk (trunk-1, a Kamailio registrar with
/// digest auth) from a row of uacreg in the box's MariaDB, made from the stack's uacRegistrations with the password
/// from a secret setting; the row changes in place like a file, and only the S-CSCF restarts.
/// </summary>
[Collection("ims")]
public sealed class UacSliceSpecs(ImsLab lab)
{
    private LabSite Site => lab.Site;
    private string TrunkIp => Site.SubnetPrefix + ".25";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> Trunk(string script)
    {
        var r = await Site.ShAtAsync("trunk-1", TrunkIp, script);
        if (!r.Ok) throw new InvalidOperationException($"trunk-1: `{script}` failed ({r.ExitCode}): {r.Stderr}");
        return r.Stdout;
    }

    private Task<string> Db(string sql) => lab.Sh($"mysql -N -B kamailio <<'EOF'\n{sql}\nEOF");

    private static IEnumerable<JsonObject> Changes(JsonObject plan) =>
        plan["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string)s["op"]! != "same");

    [Fact]
    public async Task The_scscf_registers_to_the_trunk_from_its_uacreg_row_and_the_registrar_sees_the_binding()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        lab.FirstUp.Out.Should().Contain("ims-1: ok").And.Contain("trunk-1: ok");

        (await Db("SELECT l_uuid, r_username, auth_proxy, expires FROM uacreg;")).Should().Be($"trunk1\tims-trunk\tsip:{TrunkIp}:5060\t300\n");
        (await Db("SELECT table_version FROM version WHERE table_name = 'uacreg';")).Trim().Should().Be("5", "Kamailio 5.6 reads uacreg version 5");
        (await lab.Sh("/usr/local/lib/nf-deploy/kamailio-uac-check /run/kamailio-scscf/kamailio_ctl")).Should().StartWith("trunk1: online");
        (await lab.Sh("kamcmd -s unix:/run/kamailio-scscf/kamailio_ctl uac.reg_info l_uuid trunk1")).Should().Contain($"auth_proxy: sip:{TrunkIp}:5060");
        var bindings = await Trunk("kamcmd -s unix:/run/kamailio-registrar/kamailio_ctl ul.dump");
        bindings.Should().Contain("AoR: ims-trunk").And.Contain($"sip:trunk1@{lab.Ip}:5080", "the Contact user is the l_uuid, at the S-CSCF's address");
        (await lab.Sh("stat -c '%a %G' /etc/kamailio-scscf/kamailio.cfg")).Trim().Should().Be("640 kamailio", "it holds the database password");
    }

    [Fact]
    public async Task A_changed_registration_updates_its_row_in_place_restarts_only_the_scscf_and_never_shows_the_password()
    {
        var stackFile = $"stacks/Pulumi.{Site.Stack}.yaml";
        var stack = Site.Read(stackFile);
        var id = (await Db("SELECT id FROM uacreg WHERE l_uuid = 'trunk1';")).Trim();
        var pids = (await lab.Sh("for i in pcscf icscf scscf; do cat /run/kamailio-$i/kamailio.pid; done")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            Site.Write(stackFile, stack.Replace("expires: 300", "expires: 600", StringComparison.Ordinal));
            var preview = await Site.PreviewJson();
            preview.Exit.Should().Be(0, preview.Err);
            Changes(preview.Json).Select(c => ((string)c["host"]!, (string)c["type"]!, (string)c["name"]!)).Should().BeEquivalentTo(
            [
                ("ims-1", "nfdeploy:sql:Row", "kamailio.uacreg/trunk1"),
                ("ims-1", "nfdeploy:svc:Service", "kamailio@scscf"),
            ]);
            var text = await Site.Preview(expectNoChanges: false);
            text.Out.Should().Contain("expires").And.Contain("300").And.Contain("600");

            // a new trunk password: the row and the registrar's accounts change, the values are never shown
            var rotated = "rotated-" + Guid.NewGuid().ToString("N")[..10];
            (await Site.RunAsync((a, _) => Task.FromResult(a.ConfigSet(Site.Stack, "trunkPassword", rotated, secret: true)))).Exit.Should().Be(0);
            var withPassword = await Site.Preview(expectNoChanges: false);
            withPassword.Out.Should().Contain("auth_password").And.Contain("[secret]").And.NotContain(rotated);

            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            up.Out.Should().NotContain(rotated).And.Contain("ims-1: ok").And.Contain("trunk-1: ok");
            (await Db("SELECT id, expires FROM uacreg WHERE l_uuid = 'trunk1';")).Should().Be($"{id}\t600\n", "the row is updated in place");
            var after = (await lab.Sh("for i in pcscf icscf scscf; do cat /run/kamailio-$i/kamailio.pid; done")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            after[0].Should().Be(pids[0], "the P-CSCF is not restarted");
            after[1].Should().Be(pids[1], "the I-CSCF is not restarted");
            after[2].Should().NotBe(pids[2], "the S-CSCF re-reads uacreg");
            (await lab.Sh("/usr/local/lib/nf-deploy/kamailio-uac-check /run/kamailio-scscf/kamailio_ctl")).Should().StartWith("trunk1: online", "registered again with the new password");
            Changes((await Site.PreviewJson()).Json).Should().BeEmpty("a second up has nothing to do");
        }
        finally
        {
            Site.Write(stackFile, stack);
            var back = await Site.Up();
            back.Exit.Should().Be(0, back.Out + back.Err);
        }
    }

    /// <summary>check (predicts the change, changes nothing) → apply → apply again (nothing to do).</summary>
    private static Task TripleAsync(IHostTransport t, ResourceSpec spec, StepOp expected) => ResourceTriple.TripleAsync(t, spec, expected);

    [Fact]
    public async Task Database_schema_user_and_row_are_checked_applied_and_left_alone_the_second_time()
    {
        await using var t = await Site.ConnectAsync("ims-1", lab.Ip);
        const string sql = "CREATE TABLE IF NOT EXISTS peers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32) NOT NULL UNIQUE, secret VARCHAR(64) NOT NULL DEFAULT '', port INT NOT NULL DEFAULT 0);";
        var schema = new SqlSchemaSpec("nfd_triple", "peers", sql, ["peers"]) { Host = "ims-1", Name = "nfd_triple/peers" };
        var user = new SqlUserSpec("nfd_triple", "localhost", "pw-" + Guid.NewGuid().ToString("N")[..8], ["SELECT ON nfd_triple.*"]) { Host = "ims-1", Name = "nfd_triple@localhost" };
        ImmutableSortedDictionary<string, string> Cols(string secret, string port) =>
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string> { ["name"] = "it's \\ \"quoted\"", ["secret"] = secret, ["port"] = port });
        var row = new SqlRowSpec("nfd_triple", "peers", "name", "it's \\ \"quoted\"", Cols("s1", "5060")) { Host = "ims-1", Name = "nfd_triple.peers/q", SecretColumns = ["secret"] };
        try
        {
            await TripleAsync(t, schema, StepOp.Create);
            await TripleAsync(t, schema with { Sql = sql + "\nCREATE TABLE IF NOT EXISTS extra (id INT PRIMARY KEY);", Tables = ["extra", "peers"] }, StepOp.Update);
            await TripleAsync(t, user, StepOp.Create);
            await TripleAsync(t, user with { Password = "pw-rotated" }, StepOp.Update);
            (await t.RunAsync("mysql -N -B -u nfd_triple -ppw-rotated -e 'SELECT 1' nfd_triple", Ct)).Stdout.Should().Be("1\n", "the rotated password is the account's");
            await TripleAsync(t, row, StepOp.Create);
            var id = (await t.RunAsync("mysql -N -B -e 'SELECT id FROM nfd_triple.peers'", Ct)).Stdout;
            await TripleAsync(t, row with { Columns = Cols("s2", "5061") }, StepOp.Update);
            (await t.RunAsync("mysql -N -B -e 'SELECT id, port FROM nfd_triple.peers'", Ct)).Stdout.Should().Be(id.TrimEnd() + "\t5061\n", "updated in place");

            await ResourceTriple.DeleteAsync(t, row);
            await ResourceTriple.DeleteAsync(t, user);
        }
        finally
        {
            await t.RunAsync("mysql -e 'DROP DATABASE IF EXISTS nfd_triple; DROP USER IF EXISTS nfd_triple@localhost;'", Ct);
        }
    }
}
