using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Core.State;
using Deploy.State.Postgres;

namespace Deploy.Tests;

/// <summary>Backend URLs as Pulumi and libpq read them; what is shown of them never holds the password.</summary>
public sealed class BackendUrlSpecs
{
    [Theory]
    [InlineData("postgres://alice:p%40ss@db.example.net:6543/nfd?sslmode=require", "alice", "p@ss", "db.example.net", 6543, "nfd", "postgres://alice@db.example.net:6543/nfd")]
    [InlineData("postgresql://alice@db.example.net/nfd", "alice", null, "db.example.net", 5432, "nfd", "postgres://alice@db.example.net:5432/nfd")]
    [InlineData("postgres://alice@/nfd?host=/run/postgresql", "alice", null, "/run/postgresql", 5432, "nfd", "postgres://alice@/nfd?host=/run/postgresql")]
    [InlineData("postgres://alice:secret@127.0.0.1:5433", "alice", "secret", "127.0.0.1", 5433, "alice", "postgres://alice@127.0.0.1:5433/alice")]
    public void A_postgres_url_is_read_as_libpq_reads_it_and_shown_without_its_password(string url, string user, string? password, string host, int port, string db, string shown)
    {
        var u = PostgresUrl.Parse(url);
        (u.User, u.Password, u.Host, u.Port, u.Database).Should().Be((user, password, host, port, db));
        u.Display.Should().Be(shown);
        if (password is not null) u.Mask($"failed for {password}").Should().Be("failed for [secret]");
    }

    [Fact]
    public void A_bad_sslmode_is_refused_naming_the_url_without_its_password()
    {
        var act = () => PostgresUrl.Parse("postgres://alice:hunter2@db:5432/nfd?sslmode=always").ConnectionString(pooled: false);
        act.Should().Throw<DeployException>().Which.Message.Should().StartWith("backend URL postgres://alice@db:5432/nfd: sslmode 'always' is not one of")
            .And.NotContain("hunter2");
    }

    [Fact]
    public void The_project_folder_is_the_default_backend_and_pulumi_yaml_may_name_another()
    {
        using var site = new SiteFixture();
        site.Write("Pulumi.yaml", "name: nf-deploy\nruntime: dotnet\n");
        var ws = new Workspace(site.Dir);
        StateBackends.Open(ws).Should().BeOfType<FileBackend>().Which.DisplayUrl.Should().Be("file://" + site.Dir);

        site.Write("Pulumi.yaml", "name: nf-deploy\nruntime: dotnet\nbackend:\n  url: file://shared\n");
        StateBackends.Open(ws).DisplayUrl.Should().Be("file://" + Path.Combine(site.Dir, "shared"));

        site.Write("Pulumi.yaml", "name: nf-deploy\nruntime: dotnet\nbackend:\n  url: postgres://ci:pw@127.0.0.1:5432/nfd\n");
        StateBackends.Open(ws).Should().BeOfType<PostgresBackend>().Which.DisplayUrl.Should().Be("postgres://ci@127.0.0.1:5432/nfd");

        site.Write("Pulumi.yaml", "name: nf-deploy\nruntime: dotnet\nbackend:\n  url: s3://bucket/state\n");
        var act = () => StateBackends.Open(ws);
        act.Should().Throw<DeployException>().WithMessage("backend URL scheme 's3://' is not supported: use file://<folder> or postgres://user@host:port/database");
    }
}
