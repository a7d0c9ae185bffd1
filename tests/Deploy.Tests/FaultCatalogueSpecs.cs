using System.Security.Cryptography;
using System.Text.RegularExpressions;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;

namespace Deploy.Tests;

/// <summary>Tests that set PULUMI_CONFIG_PASSPHRASE[_FILE] run alone: the variables are the process's.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PassphraseEnvironment
{
    public const string Name = "PULUMI_CONFIG_PASSPHRASE";
}

/// <summary>
/// The catalogue of bad input: one row per fault a user can make in the site files, templates and stack config, or
/// find in the state. Each row says how the input is broken and the exact error the user gets (<c>file:line: message</c>
/// for site files and templates). Every row also proves that nothing was changed or lost: the project's files are
/// byte-identical after the failed command, no state or lock is left, and no host was contacted.
/// <para>In an expected error, <c>{line of 'TEXT' in FILE}</c> is the number of the first line of FILE holding TEXT
/// (after the row broke it), <c>{last line of FILE}</c> its number of lines and <c>{dir}</c> the project folder.</para>
/// </summary>
[Collection(PassphraseEnvironment.Name)]
public sealed class FaultCatalogueSpecs : IDisposable
{
    private const string Passphrase = SiteFixture.LabPassphrase;

    // the lab stack has secrets: the environment holds its passphrase unless a row takes it away
    public FaultCatalogueSpecs() => SetPassphrase(Passphrase);

    public void Dispose() => SetPassphrase(null);

    /// <summary>One fault: how the project is broken, the command that then fails, the exact error.</summary>
    public sealed record Fault(string Story, Func<SiteFixture, Task> Break, Func<SiteFixture, Task> Command, string Error);

    private static Fault Case(string story, Action<SiteFixture> brk, string error, string stack = "lab") =>
        new(story, s => { brk(s); return Task.CompletedTask; }, s => s.RenderAsync(stack), error);

    private static Fault Case(string story, Action<SiteFixture> brk, Func<SiteFixture, Task> command, string error) =>
        new(story, s => { brk(s); return Task.CompletedTask; }, command, error);

    private static readonly string[] Kamailios = ["kamailio-1", "kamailio-2", "kamailio-3"];

    /// <summary>One line per host (the site is rendered for every host, and each host's error is told).</summary>
    private static string PerHost(string error, params string[] hosts) => string.Join("\n", hosts.Select(h => error.Replace("{host}", h)));

    private static readonly Fault[] Faults =
    [
        // ---- Pulumi.yaml
        Case("Malformed_yaml_in_Pulumi_yaml_names_the_file_and_line",
            s => s.Edit("Pulumi.yaml", "stackConfigDir: stacks", "stackConfigDir: [stacks"),
            "Pulumi.yaml:{last line of Pulumi.yaml}: malformed YAML: unexpected end of file (an unclosed bracket or quote?)"),
        Case("A_project_of_another_runtime_is_refused",
            s => s.Edit("Pulumi.yaml", "runtime: dotnet", "runtime: nodejs"),
            "Pulumi.yaml:{line of 'runtime:' in Pulumi.yaml}: runtime must be 'dotnet' (nf-deploy is a .NET program), not 'nodejs'"),
        Case("A_setting_of_an_unknown_type_in_Pulumi_yaml_is_refused",
            s => s.Edit("Pulumi.yaml", "    type: integer\n    description: Number of P-GWs", "    type: int\n    description: Number of P-GWs"),
            "Pulumi.yaml:{line of 'type: int' in Pulumi.yaml}: setting 'pgwCount': type must be string, integer, boolean, array or object"),

        // ---- stack files
        Case("An_unknown_setting_in_a_stack_file_names_its_line",
            s => s.Append("stacks/Pulumi.lab.yaml", "  nf-deploy:pgwCoutn: 4\n"),
            "stacks/Pulumi.lab.yaml:{line of 'pgwCoutn' in stacks/Pulumi.lab.yaml}: unknown setting 'pgwCoutn' (declared settings: diameterTls, dnsServers, inventory, kamailioDbPassword, kamailioRepo, kamailioRepoKey, kamailioRepoKeyFingerprint, kamailioVersion, open5gsRepo, open5gsRepoKey, open5gsRepoKeyFingerprint, open5gsVersion, pcscfAddresses, pgwCount, realm, sipDomain, tlsCaCert, tlsCaKey, tlsRenewDays, trunkPassword, uacRegistrations)"),
        Case("A_string_where_an_integer_setting_belongs_names_its_line",
            s => s.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:pgwCount: 3", "nf-deploy:pgwCount: three"),
            "stacks/Pulumi.lab.yaml:{line of 'pgwCount' in stacks/Pulumi.lab.yaml}: 'pgwCount' must be an integer, not 'three'"),
        Case("A_scalar_where_a_list_setting_belongs_names_its_line",
            s => s.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:dnsServers: [10.211.0.1]", "nf-deploy:dnsServers: 10.211.0.1"),
            "stacks/Pulumi.lab.yaml:{line of 'dnsServers' in stacks/Pulumi.lab.yaml}: 'dnsServers' must be a list"),
        Case("A_setting_of_another_project_is_refused",
            s => s.Append("stacks/Pulumi.lab.yaml", "  aws:region: eu-west-1\n"),
            "stacks/Pulumi.lab.yaml:{line of 'aws:region' in stacks/Pulumi.lab.yaml}: 'aws:region': settings of this project are named 'nf-deploy:<key>'"),
        Case("An_unknown_stack_lists_the_stacks_that_exist",
            _ => { },
            s => s.RenderAsync("nope"),
            "no stack 'nope': stacks/Pulumi.nope.yaml does not exist (stacks: lab, prod-example); a new one is made by ./deploy stack init nope"),

        // ---- inventory
        Case("Malformed_yaml_in_the_inventory_names_the_file_and_line",
            s => s.Edit("inventory/lab.yaml", "  kamailio-3: { address: 10.211.0.13, lab: { init: sysv } }", "  - kamailio-3: { address: 10.211.0.13, lab: { init: sysv } }"),
            "inventory/lab.yaml:{line of '- kamailio-3' in inventory/lab.yaml}: malformed YAML: While parsing a block mapping, did not find expected key."),
        Case("A_key_given_twice_is_refused",
            s => s.Append("Pulumi.yaml", "name: nf-deploy-2\n"),
            "Pulumi.yaml:{last line of Pulumi.yaml}: malformed YAML: Duplicate key name"),
        Case("A_duplicate_host_address_names_both_hosts_and_the_second_line",
            s => s.Edit("inventory/lab.yaml", "address: 10.211.0.13", "address: 10.211.0.12"),
            "inventory/lab.yaml:{line of 'kamailio-3:' in inventory/lab.yaml}: hosts 'kamailio-2' and 'kamailio-3' have the same address 10.211.0.12"),
        Case("A_group_listing_an_undeclared_host_names_the_line",
            s => s.Edit("inventory/lab.yaml", "hosts: [kamailio-1, kamailio-2, kamailio-3]", "hosts: [kamailio-1, kamailio-2, kamailio-4]"),
            "inventory/lab.yaml:{line of 'kamailio-4' in inventory/lab.yaml}: group 'kamailio' lists host 'kamailio-4', which is not declared under hosts:"),
        Case("An_unknown_key_in_a_host_entry_lists_the_keys_allowed",
            s => s.Edit("inventory/lab.yaml", "kamailio-1: { address: 10.211.0.11, lab: true }", "kamailio-1: { adress: 10.211.0.11, lab: true }"),
            "inventory/lab.yaml:{line of 'adress' in inventory/lab.yaml}: unknown key 'adress' in host 'kamailio-1' (expected one of: address, lab, ssh, vars, roles, facts)"),
        Case("An_unknown_key_in_a_group_lists_the_keys_allowed",
            s => s.Edit("inventory/lab.yaml", "    roles: [sip-proxy]", "    role: [sip-proxy]"),
            "inventory/lab.yaml:{line of 'role: [sip-proxy]' in inventory/lab.yaml}: unknown key 'role' in group 'kamailio' (expected one of: hosts, roles, vars, count, name, address, lab)"),
        Case("A_count_naming_no_setting_is_refused",
            s => s.Edit("inventory/lab.yaml", "count: pgwCount", "count: pgwCuont"),
            "inventory/lab.yaml:{line of 'pgwCuont' in inventory/lab.yaml}: group 'pgw': count refers to 'pgwCuont', which is not a setting of the stack"),
        Case("A_count_from_a_setting_that_is_no_integer_is_refused",
            s => s.Edit("inventory/lab.yaml", "count: pgwCount", "count: sipDomain"),
            "inventory/lab.yaml:{line of 'count: sipDomain' in inventory/lab.yaml}: group 'pgw': count setting 'sipDomain' must be an integer, not 'lab.nf-deploy.test'"),
        Case("An_undefined_variable_in_a_counted_groups_name_pattern_names_its_line",
            s => s.Edit("inventory/lab.yaml", "name: \"pgw-{{ i }}\"", "name: \"pgw-{{ j }}\""),
            "inventory/lab.yaml:{line of 'pgw-{{ j }}' in inventory/lab.yaml}: The variable or function `j` was not found"),
        Case("An_invalid_host_name_is_refused",
            s => s.Edit("inventory/lab.yaml", "kamailio-3: {", "kamailio_3: {").Edit("inventory/lab.yaml", "kamailio-2, kamailio-3]", "kamailio-2, kamailio_3]"),
            "inventory/lab.yaml:{line of 'kamailio_3: {' in inventory/lab.yaml}: 'kamailio_3' is not a valid host name (letters, digits and '-', at most 63)"),
        Case("A_jump_host_that_is_not_declared_is_named",
            s => s.Edit("inventory/lab.yaml", "kamailio-2: { address: 10.211.0.12, lab: true, ssh: { user: deploy } }", "kamailio-2: { address: 10.211.0.12, lab: true, ssh: { user: deploy, jump: bastoin } }"),
            "inventory/lab.yaml:{line of 'bastoin' in inventory/lab.yaml}: host 'kamailio-2': jump host 'bastoin' is not declared under hosts:"),
        Case("An_ssh_port_that_is_no_number_is_refused",
            s => s.Edit("inventory/lab.yaml", "ssh: { user: deploy }", "ssh: { user: deploy, port: ssh }"),
            "inventory/lab.yaml:{line of 'port: ssh' in inventory/lab.yaml}: host 'kamailio-2': ssh port must be a whole number from 1 to 65535, not 'ssh'"),
        Case("A_lab_host_without_a_lab_section_is_refused",
            s => s.Edit("inventory/lab.yaml", "lab:\n  network: nfd-lab\n  subnet: 10.211.0.0/24\n  gateway: 10.211.0.1\n  image: nf-deploy/lab-base:bookworm\n  aptProxy: http://10.211.0.1:3142\n" +
                "  # lab hosts boot systemd as PID 1, as real Debian hosts do; `lab: { init: sysv }` on a host or group keeps a host on\n" +
                "  # init.d scripts (sshd as PID 1)\n  init: systemd\n", ""),
            "inventory/lab.yaml:{line of 'kamailio-1:' in inventory/lab.yaml}: host 'kamailio-1' is a lab host but the inventory has no 'lab:' section (network, subnet, gateway)"),
        Case("A_host_in_two_groups_with_conflicting_vars_names_both_groups",
            s => s.Append("inventory/lab.yaml", "  edge:\n    hosts: [kamailio-2]\n    vars:\n      listen_interface: eth1\n"),
            "inventory/lab.yaml:{line of 'listen_interface: eth1' in inventory/lab.yaml}: host 'kamailio-2' is in groups 'kamailio' (line {line of 'listen_interface: eth0' in inventory/lab.yaml}) and 'edge', which set 'listen_interface' differently (\"eth0\" vs \"eth1\"); set 'listen_interface' on the host to choose"),

        // ---- roles
        Case("An_unknown_role_lists_the_roles_that_exist",
            s => s.Edit("inventory/lab.yaml", "roles: [sip-proxy]", "roles: [sip-proxi]"),
            "inventory/lab.yaml:{line of 'sip-proxi' in inventory/lab.yaml}: unknown role 'sip-proxi' (roles/: ims, pcrf, pcrf-open5gs, pgw, sip-proxy, sip-trunk)"),
        Case("An_unknown_key_in_a_role_file_lists_the_keys_allowed",
            s => s.Edit("roles/sip-proxy.yaml", "vars:", "variables:"),
            "roles/sip-proxy.yaml:{line of 'variables:' in roles/sip-proxy.yaml}: unknown key 'variables' in a role (expected one of: description, nfs, vars)"),
        Case("A_role_without_nfs_is_refused",
            s => s.Write("roles/sip-proxy.yaml", "description: runs nothing\n"),
            "roles/sip-proxy.yaml:1: a role needs 'nfs:', the list of network functions it runs"),
        Case("An_unknown_nf_names_the_role_line_and_the_nfs_that_exist",
            s => s.Write("roles/sip-proxy.yaml", "description: x\nnfs:\n  - kamailio\n  - kamailo\n"),
            "roles/sip-proxy.yaml:4: unknown network function 'kamailo' (nf/: freediameter, kamailio, kamailio-instance, mariadb, open5gs, open5gs-pcrf, open5gs-pgw)"),

        // ---- nf.yaml
        Case("An_unknown_key_in_an_nf_manifest_lists_the_keys_allowed",
            s => s.Edit("nf/kamailio/nf.yaml", "services:\n", "service:\n"),
            "nf/kamailio/nf.yaml:{line of 'service:' in nf/kamailio/nf.yaml}: unknown key 'service' in an NF manifest (expected one of: description, defaults, values, checks, apt, packages, directories, files, services, ports, health, sql, identity)"),
        Case("A_misspelt_key_in_a_file_entry_lists_the_keys_allowed",
            s => s.Edit("nf/kamailio/nf.yaml", "    notify: [kamailio]\n  - path: /etc/kamailio/kamailio.cfg", "    notfy: [kamailio]\n  - path: /etc/kamailio/kamailio.cfg"),
            "nf/kamailio/nf.yaml:{line of 'notfy' in nf/kamailio/nf.yaml}: unknown key 'notfy' in a file (expected one of: path, template, source, content, owner, group, mode, validate, block, notify, when, secret, lint)"),
        Case("A_file_with_both_template_and_source_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "    template: kamailio/default.sbn\n", "    template: kamailio/default.sbn\n    source: kamailio-check.sh\n"),
            "nf/kamailio/nf.yaml:{line of 'path: /etc/default/kamailio' in nf/kamailio/nf.yaml}: a file needs exactly one of 'template', 'source' or 'content'"),
        Case("A_missing_source_file_is_named",
            s => s.Edit("nf/kamailio/nf.yaml", "source: kamailio-check.sh", "source: kamailio-chek.sh"),
            "nf/kamailio/nf.yaml:{line of 'kamailio-chek.sh' in nf/kamailio/nf.yaml}: source file nf/kamailio/files/kamailio-chek.sh not found"),
        Case("A_mode_that_is_not_octal_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "mode: \"0755\"", "mode: \"rwxr-xr-x\""),
            "nf/kamailio/nf.yaml:{line of 'rwxr-xr-x' in nf/kamailio/nf.yaml}: mode 'rwxr-xr-x' must be octal like \"0644\" (quote it in YAML)"),
        Case("A_file_notifying_an_undeclared_service_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "    template: kamailio/default.sbn\n    notify: [kamailio]", "    template: kamailio/default.sbn\n    notify: [kamailo]"),
            "nf/kamailio/nf.yaml:{line of 'path: /etc/default/kamailio' in nf/kamailio/nf.yaml}: file notifies service 'kamailo', which no NF of the site declares under services:"),
        Case("A_health_check_of_an_unknown_kind_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "  - command: { command: \"kamcmd dmq.list_nodes\"", "  - http: { command: \"kamcmd dmq.list_nodes\""),
            "nf/kamailio/nf.yaml:{line of '- http:' in nf/kamailio/nf.yaml}: unknown health check 'http' (sip-options, command, tcp, diameter, gtpv2-echo or call)"),
        Case("A_port_of_an_unknown_protocol_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "{ proto: tcp,", "{ proto: quic,"),
            "nf/kamailio/nf.yaml:{line of 'proto: quic' in nf/kamailio/nf.yaml}: port proto must be udp, tcp, tls, sctp or unix, not 'quic'"),
        Case("An_apt_key_with_both_url_and_file_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "      url: \"{{ config.kamailioRepoKey }}\"", "      url: \"{{ config.kamailioRepoKey }}\"\n      file: keys/kamailio.asc"),
            "nf/kamailio/nf.yaml:{line of '- name: kamailio' in nf/kamailio/nf.yaml}: apt key 'kamailio': give exactly one of 'url' or 'file'"),
        Case("A_when_that_is_not_a_boolean_is_refused",
            s => s.Edit("inventory/lab.yaml", "dmq_hosts_entry: true", "dmq_hosts_entry: maybe"),
            PerHost("nf/kamailio/nf.yaml:{line of 'when:' in nf/kamailio/nf.yaml}: 'when' must be true or false, not 'maybe' (rendering for host {host})", Kamailios)),
        Case("A_port_that_renders_to_no_number_is_refused",
            s => s.Edit("roles/sip-proxy.yaml", "children: 4", "children: 4\n  sip_port: sip"),
            PerHost("nf/kamailio/nf.yaml:{line of 'proto: udp, address: \"{{ nf.listen_ip }}\", port: \"{{ vars.sip_port }}\"' in nf/kamailio/nf.yaml}: port 'sip' is not a port number (rendering for host {host})", Kamailios)),
        Case("A_relative_file_path_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "- path: /etc/default/kamailio", "- path: etc/default/kamailio"),
            PerHost("nf/kamailio/nf.yaml:{line of 'path: etc/default/kamailio' in nf/kamailio/nf.yaml}: file path 'etc/default/kamailio' must be absolute (rendering for host {host})", Kamailios)),
        Case("Two_nfs_binding_one_ip_and_port_on_a_host_are_refused",
            s => s.Write("nf/sip-monitor/nf.yaml", "description: a second NF that wrongly takes Kamailio's SIP port\nports:\n  - { proto: udp, address: \"{{ ipv4 '' }}\", port: 5060 }\n")
                  .Write("roles/sip-proxy.yaml", "nfs: [kamailio, sip-monitor]\n"),
            string.Join("\n", new[] { 11, 12, 13 }.Select(i =>
                $"nf/sip-monitor/nf.yaml:3: udp 10.211.0.{i}:5060 of NF 'sip-monitor' clashes with udp 10.211.0.{i}:5060 of NF 'kamailio' (nf/kamailio/nf.yaml:{{line of '{{ proto: udp, address: \"{{{{ nf.listen_ip }}}}\", port: \"{{{{ vars.sip_port }}}}\" }}' in nf/kamailio/nf.yaml}}) (rendering for host kamailio-{i - 10})"))),
        Case("A_listen_interface_the_host_lacks_lists_the_interfaces_it_has",
            s => s.Edit("inventory/lab.yaml", "listen_interface: eth0\n      # no DNS", "listen_interface: eth9\n      # no DNS"),
            PerHost("nf/kamailio/nf.yaml:{line of 'listen_ip:' in nf/kamailio/nf.yaml}: host {host} has no IPv4 address on interface 'eth9' (interfaces: lo, eth0) (rendering for host {host})", Kamailios)),

        // ---- templates
        Case("A_template_syntax_error_names_the_template_line",
            s => s.Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n\n{{ if vars.children }}\nx\n"),
            // found when the site is loaded, once, before any host is rendered or read
            "templates/kamailio/default.sbn:3: template error: Error while parsing if statement: The <end> statement was not found in: if <expression> ... end|else|else if"),
        Case("An_undefined_template_variable_names_the_template_line",
            s => s.Edit("templates/kamailio/kamailio.cfg.sbn", "children={{ vars.children }}", "children={{ vars.childs }}"),
            PerHost("templates/kamailio/kamailio.cfg.sbn:{line of 'vars.childs' in templates/kamailio/kamailio.cfg.sbn}: Cannot get member with name childs. (rendering for host {host})", Kamailios)),
        Case("An_undefined_template_function_names_the_template_line",
            s => s.Edit("templates/kamailio/default.sbn", "SHM_MEMORY={{ vars.shm_memory }}", "SHM_MEMORY={{ megabytes vars.shm_memory }}"),
            PerHost("templates/kamailio/default.sbn:{line of 'megabytes' in templates/kamailio/default.sbn}: The variable or function `megabytes` was not found (rendering for host {host})", Kamailios)),
        Case("A_template_that_throws_while_rendering_names_its_line",
            s => s.Edit("templates/kamailio/default.sbn", "SHM_MEMORY={{ vars.shm_memory }}", "SHM_MEMORY={{ vars.shm_memory // 0 }}"),
            PerHost("templates/kamailio/default.sbn:{line of '// 0' in templates/kamailio/default.sbn}: Attempted to divide by zero. (rendering for host {host})", Kamailios)),
        Case("A_missing_include_names_the_including_template_line",
            s => s.Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n{{ include 'kamailio/nope.sbn' }}\n"),
            PerHost("templates/kamailio/default.sbn:2: include 'kamailio/nope.sbn' not found (looked in templates/ and next to the including file) (rendering for host {host})", Kamailios)),
        Case("An_unknown_template_names_the_manifest_line_and_where_it_looked",
            s => s.Edit("nf/kamailio/nf.yaml", "template: kamailio/default.sbn", "template: kamailio/defaults.sbn"),
            PerHost("nf/kamailio/nf.yaml:{line of 'path: /etc/default/kamailio' in nf/kamailio/nf.yaml}: template 'kamailio/defaults.sbn' not found (looked in nf/kamailio/templates/ and templates/) (rendering for host {host})", Kamailios)),

        // ---- config set
        Case("Config_set_of_an_unknown_key_lists_the_settings",
            _ => { }, s => ConfigSet(s, "pgwCoutn", "5"),
            "unknown setting 'pgwCoutn' (declared in Pulumi.yaml: diameterTls, dnsServers, inventory, kamailioDbPassword, kamailioRepo, kamailioRepoKey, kamailioRepoKeyFingerprint, kamailioVersion, open5gsRepo, open5gsRepoKey, open5gsRepoKeyFingerprint, open5gsVersion, pcscfAddresses, pgwCount, realm, sipDomain, tlsCaCert, tlsCaKey, tlsRenewDays, trunkPassword, uacRegistrations)"),
        Case("Config_set_of_a_word_for_an_integer_is_refused",
            _ => { }, s => ConfigSet(s, "pgwCount", "five"),
            "'pgwCount' must be an integer, not 'five'"),
        Case("Config_set_of_a_scalar_for_a_list_is_refused",
            _ => { }, s => ConfigSet(s, "dnsServers", "8.8.8.8"),
            "'dnsServers' must be a list"),
        Case("Config_set_of_a_word_for_a_boolean_is_refused",
            _ => { }, s => ConfigSet(s, "diameterTls", "maybe"),
            "'diameterTls' must be true or false, not 'maybe'"),
        Case("Config_set_secret_without_a_passphrase_is_refused",
            s => { WithSecretSetting(s); SetPassphrase(null); }, s => ConfigSet(s, "motdSecret", "s3cr3t", secret: true),
            "a secret needs a passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)"),
        new("Config_set_secret_of_an_integer_setting_is_refused",
            s => { SetPassphrase(Passphrase); return Task.CompletedTask; }, s => ConfigSet(s, "pgwCount", "5", secret: true),
            "'pgwCount' is of type integer: only string settings can be secret"),

        // ---- secrets on load
        new("A_wrong_passphrase_is_named_on_load",
            async s => { await WithSecretAsync(s); SetPassphrase("wrong horse"); }, s => s.RenderAsync(),
            "stack lab: incorrect passphrase (PULUMI_CONFIG_PASSPHRASE does not open this stack's secrets)"),
        new("A_missing_passphrase_is_named_on_load",
            async s => { await WithSecretAsync(s); SetPassphrase(null); }, s => s.RenderAsync(),
            "stack lab has secret settings: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to its passphrase"),
        new("A_passphrase_file_that_cannot_be_read_is_named",
            async s =>
            {
                await WithSecretAsync(s);
                SetPassphrase(null);
                Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE_FILE", Path.Combine(s.Dir, "no-passphrase"));
            },
            s => s.RenderAsync(),
            "cannot read PULUMI_CONFIG_PASSPHRASE_FILE {dir}/no-passphrase: Could not find file '{dir}/no-passphrase'."),
        new("A_corrupt_secure_value_names_the_setting",
            async s => { await WithSecretAsync(s); s.Edit("stacks/Pulumi.lab.yaml", new Regex("(?<=motdSecret:\n    )secure: v1:[^\n]*"), "secure: v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAA"); },
            s => s.RenderAsync(),
            "stack lab: setting 'motdSecret': cannot decrypt (a value sealed with another passphrase?)"),
        new("A_stack_with_secrets_but_no_encryptionsalt_names_the_stack_file",
            async s => { await WithSecretAsync(s); s.Edit("stacks/Pulumi.lab.yaml", new Regex("encryptionsalt: [^\n]*\n"), ""); },
            s => s.RenderAsync(),
            "stack lab has secret settings but no encryptionsalt in stacks/Pulumi.lab.yaml"),
        new("An_encryptionsalt_that_is_not_base64_is_refused",
            async s => { await WithSecretAsync(s); s.Edit("stacks/Pulumi.lab.yaml", new Regex("encryptionsalt: v1:[^:]*:"), "encryptionsalt: v1:not*base64:"); },
            s => s.RenderAsync(),
            "stack lab: encryptionsalt is not of the form v1:<salt>:<check>"),
    ];

    public static TheoryData<string> Stories => [.. Faults.Select(f => f.Story)];

    [Theory]
    [MemberData(nameof(Stories))]
    public async Task Bad_input_gets_one_exact_error_and_changes_nothing(string story)
    {
        var fault = Faults.Single(f => f.Story == story);
        using var site = SiteFixture.FromRepo();
        site.Passphrase = Deploy.Site.Secrets.PassphraseCrypter.PassphraseFromEnvironment;
        await fault.Break(site);
        var before = Snapshot(site.Dir);

        var act = () => fault.Command(site);

        var message = (await act.Should().ThrowAsync<DeployException>()).Which.Message;
        message.Should().Be(Expected(site, fault.Error));
        Snapshot(site.Dir).Should().Equal(before, "a failed command changes no file of the project");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("no state and no lock were written");
    }

    [Fact]
    public void Every_story_of_the_catalogue_is_told_once()
    {
        Faults.Select(f => f.Story).Should().OnlyHaveUniqueItems();
        Faults.Length.Should().BeGreaterThanOrEqualTo(40);
    }

    // ---- through ./deploy itself: exit code 1, one `error:` line, no stack trace, nothing changed

    /// <summary>A verb, how the project is broken first, and the exact stderr of ./deploy.</summary>
    public sealed record VerbFault(string Story, Action<SiteFixture> Break, string[] Args, string Stderr);

    private static readonly VerbFault[] VerbFaults =
    [
        new("Config_set_of_a_bad_value_exits_1_and_leaves_the_stack_file_as_it_was", _ => { },
            ["config", "set", "pgwCount", "five", "--stack", "lab"],
            "error: 'pgwCount' must be an integer, not 'five'\n"),
        new("A_verb_outside_any_project_says_where_it_looked", s => File.Delete(Path.Combine(s.Dir, "Pulumi.yaml")),
            ["preview", "--stack", "lab"],
            "error: no Pulumi.yaml in {dir} or its parents: run ./deploy from the nf-deploy project (or pass --cwd)\n"),
        new("Up_on_a_malformed_role_file_exits_1_before_locking_or_connecting", s => s.Write("roles/sip-proxy.yaml", "nfs: [kamailio\n"),
            ["up", "--stack", "lab", "--yes"],
            "error: roles/sip-proxy.yaml:2: malformed YAML: While parsing a flow sequence, did not find expected ',' or ']'.\n"),
        new("Render_with_a_corrupt_state_file_names_its_backup", s => s.Write(".pulumi/stacks/nf-deploy/prod-example.json", "{ not json"),
            ["render", "--stack", "prod-example", "--out", "out"],
            "error: .pulumi/stacks/nf-deploy/prod-example.json: the state file is not a valid checkpoint (line 1, byte 3); restore it from .pulumi/stacks/nf-deploy/prod-example.json.bak\n"),
        new("Up_on_a_stack_locked_by_a_live_run_says_to_wait", s => LoopbackSite(s).Write(".pulumi/locks/nf-deploy/prod-example.json", Lock(Environment.ProcessId)),
            ["up", "--stack", "prod-example", "--yes"],
            $"error: stack prod-example is locked by 'up' (pid {Environment.ProcessId} on {Environment.MachineName}, since 2026-11-29 00:00:00Z); wait for it to finish.\n"),
        new("Up_on_a_stack_locked_by_a_dead_run_names_the_command_that_breaks_the_lock", s => LoopbackSite(s).Write(".pulumi/locks/nf-deploy/prod-example.json", Lock(999999)),
            ["up", "--stack", "prod-example", "--yes"],
            $"error: stack prod-example is locked by 'up' (pid 999999 on {Environment.MachineName}, since 2026-11-29 00:00:00Z); that process is gone: break the stale lock with `./deploy cancel --stack prod-example`.\n"),
        new("Up_with_a_corrupt_state_file_releases_its_lock_and_keeps_the_file", s => LoopbackSite(s).Write(".pulumi/stacks/nf-deploy/prod-example.json", "[]"),
            ["up", "--stack", "prod-example", "--yes"],
            "error: .pulumi/stacks/nf-deploy/prod-example.json: the state file is not a valid checkpoint (line 1, byte 2); restore it from .pulumi/stacks/nf-deploy/prod-example.json.bak\n"),
    ];

    public static TheoryData<string> VerbStories => [.. VerbFaults.Select(f => f.Story)];

    [Theory]
    [MemberData(nameof(VerbStories))]
    public async Task A_failing_verb_prints_one_error_line_exits_1_and_changes_nothing(string story)
    {
        var fault = VerbFaults.Single(f => f.Story == story);
        using var site = SiteFixture.FromRepo();
        site.Passphrase = Deploy.Site.Secrets.PassphraseCrypter.PassphraseFromEnvironment;
        fault.Break(site);
        var before = Snapshot(site.Dir);

        var (exit, stdout, stderr) = await DeployAsync(site, fault.Args);

        stderr.Should().Be(Expected(site, fault.Stderr));
        exit.Should().Be(ExitCodes.Failed);
        stdout.Should().BeEmpty();
        Snapshot(site.Dir).Should().Equal(before, "a failed command changes no file: site files, state and lock stay as they were");
    }

    /// <summary>prod-example with its machines on loopback addresses and its apt key in the controller's cache: a verb
    /// that went wrong could reach no other machine, and no key is fetched.</summary>
    private static SiteFixture LoopbackSite(SiteFixture site)
    {
        var inventory = Regex.Replace(site.Read("inventory/prod-example.yaml"), @"address: (192\.0\.2|198\.51\.100)\.(\d+)", "address: 127.0.0.$2");
        site.Write("inventory/prod-example.yaml", inventory);
        foreach (var url in new[] { "https://deb.kamailio.org/kamailiodebkey.gpg", "https://download.opensuse.org/repositories/home:/acetcom:/open5gs:/latest/Debian_12/Release.key" })
        {
            var cached = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(url)))[..24] + ".asc";
            site.Write(".nf-deploy/cache/keys/" + cached, TestKeys.Armored + "\n");
        }
        return site;
    }

    private static string Lock(int pid) =>
        $"{{\"pid\": {pid}, \"host\": \"{Environment.MachineName}\", \"operation\": \"up\", \"since\": \"2026-11-29T00:00:00Z\"}}";

    /// <summary>Runs ./deploy (the nf-deploy program built beside the tests) in the project folder.</summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> DeployAsync(SiteFixture site, string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = site.Dir,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nf-deploy.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "NF_DEPLOY_PROJECT" }) psi.Environment.Remove(v);
        psi.Environment["PULUMI_CONFIG_PASSPHRASE"] = SiteFixture.LabPassphrase; // the lab stack's secrets
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Close();
        var ct = TestContext.Current.CancellationToken;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task A_host_var_settles_a_conflict_between_its_groups()
    {
        using var site = SiteFixture.FromRepo();
        site.Passphrase = Deploy.Site.Secrets.PassphraseCrypter.PassphraseFromEnvironment;
        site.Edit("inventory/lab.yaml", "kamailio-2: { address: 10.211.0.12, lab: true, ssh: { user: deploy } }",
                "kamailio-2: { address: 10.211.0.12, lab: true, ssh: { user: deploy }, vars: { listen_interface: eth0 } }")
            .Append("inventory/lab.yaml", "  edge:\n    hosts: [kamailio-2]\n    vars:\n      listen_interface: eth1\n");
        var hosts = await site.RenderAsync();
        hosts["kamailio-2"].Resources.Should().NotBeEmpty();
    }

    // ---- helpers

    private static Task ConfigSet(SiteFixture site, string key, string value, bool secret = false)
    {
        var app = new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false);
        app.ConfigSet("lab", key, value, secret);
        return Task.CompletedTask;
    }

    private static void SetPassphrase(string? phrase)
    {
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", phrase);
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE_FILE", null);
    }

    private static void WithSecretSetting(SiteFixture site) =>
        site.Append("Pulumi.yaml", "  motdSecret:\n    type: string\n    description: a test secret\n    default: \"\"\n");

    /// <summary>A string setting stored encrypted with <see cref="Passphrase"/>.</summary>
    private static Task WithSecretAsync(SiteFixture site)
    {
        WithSecretSetting(site);
        SetPassphrase(Passphrase);
        return ConfigSet(site, "motdSecret", "s3cr3t-Tr0mb0ne!", secret: true);
    }

    /// <summary>Every file under the project and its SHA-256, by relative path (the site CA and the flock sidecars aside).</summary>
    internal static IDictionary<string, string> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(dir, f).StartsWith(".nf-deploy/pki/", StringComparison.Ordinal))
            // the empty flock sidecars one writer at a time takes (never deleted, never state)
            .Where(f => !Path.GetRelativePath(dir, f).StartsWith(".nf-deploy/locks/", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>The expected error with its placeholders filled in: <c>{dir}</c> and <c>{line of 'TEXT' in FILE}</c>.</summary>
    internal static string Expected(SiteFixture site, string error) =>
        Regex.Replace(Regex.Replace(error.Replace("{dir}", site.Dir), @"\{last line of ([^}]+)\}",
            m => File.ReadAllLines(Path.Combine(site.Dir, m.Groups[1].Value)).Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), @"\{line of '(.*?)' in ([^}]+)\}", m =>
        {
            var lines = site.Read(m.Groups[2].Value).Split('\n');
            var at = Array.FindIndex(lines, l => l.Contains(m.Groups[1].Value, StringComparison.Ordinal));
            if (at < 0) throw new InvalidOperationException($"'{m.Groups[1].Value}' is in no line of {m.Groups[2].Value}");
            return (at + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
}
