#!/usr/bin/env bash
# Benchmark: a no-op run of the Kamailio DMQ slice over N lab hosts (default 10).
# Reference on this 2-core machine: tuned Ansible (forks = hosts, pipelining, ControlPersist) needs about 55 s for
# this no-op over 10 lab hosts and 134 s over 20. nf-deploy's target: under 2 s.
# Prints the median and worst wall time, and peak memory, of `preview` and `up` once the site has converged, then of
# repeat previews through kept connections (NF_DEPLOY_SSH_PERSIST: the broker keeps the connections and the
# passphrase's derived key), and the site load of one preview without and with the kept key.
#   bench/noop.sh [HOSTS] [RUNS]        (set KEEP=1 to leave the bench lab up afterwards)
set -euo pipefail
hosts=${1:-10}
runs=${2:-5}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=$(mktemp -d /tmp/nfd-bench.XXXXXX)
cp -r "$repo/Pulumi.yaml" "$repo/roles" "$repo/nf" "$repo/templates" "$repo/stacks" "$work/"
mkdir -p "$work/inventory"
sed -e 's/nf-deploy:inventory: lab/nf-deploy:inventory: bench/' -e 's/10\.211\.0/10.222.0/g' "$repo/stacks/Pulumi.lab.yaml" >"$work/stacks/Pulumi.bench.yaml"
# the lab mirror's signing key as a key file of the project, as scripts/lab-up puts it
install -D -m 0644 /var/lib/nf-deploy/mirror/kamailiodebkey.gpg "$work/.nf-deploy/lab/mirror-key.asc"
cat >"$work/inventory/bench.yaml" <<YAML
lab: { network: nfd-bench, subnet: 10.222.0.0/24, gateway: 10.222.0.1 }
ssh: { user: root, key: .nf-deploy/lab/id_ed25519 }
groups:
  kamailio:
    count: $hosts
    name: "kamailio-{{ i }}"
    address: "10.222.0.{{ 10 + i }}"
    lab: true
    roles: [sip-proxy]
    vars: { listen_interface: eth0, dmq_hosts_entry: true }
YAML
export NF_DEPLOY_PROJECT="$work"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-nf-deploy-lab}"  # the lab stack's secrets
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then "$repo/deploy" destroy --stack bench --yes >/dev/null 2>&1 || true; rm -rf "$work"; fi
}
trap cleanup EXIT

"$repo/scripts/setup-controller.sh" >/dev/null
echo "bench: bringing up $hosts lab hosts (first up: creates containers, installs Kamailio)..."
start=$(date +%s)
"$repo/deploy" up --stack bench --yes >"$work/first-up.log" 2>&1 || { tail -20 "$work/first-up.log"; exit 1; }
echo "bench: first up took $(( $(date +%s) - start )) s"

measure() { # verb...
  local times=() mem=0
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$repo/deploy" "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
    read -r t m <"$work/time"
    times+=("$t"); [ "$m" -gt "$mem" ] && mem=$m
  done
  local sorted; sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  local median; median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
  local worst; worst=$(echo "$sorted" | tail -n1)
  printf 'bench: %-42s hosts=%-3s median %5.2f s  worst %5.2f s  peak RSS %4d MB\n' "$*${LABEL:-}" "$hosts" "$median" "$worst" "$((mem / 1024))"
}
measure preview --stack bench --expect-no-changes
measure up --stack bench --yes
grep -q "0 changed" "$work/out" || { echo "bench: the no-op up changed something:"; cat "$work/out"; exit 1; }

# Repeat previews through kept connections (NF_DEPLOY_SSH_PERSIST, opt-in): the first starts the user's broker, which
# then holds the hosts' connections and the passphrase's derived key; the next ones reuse both.
export NF_DEPLOY_SSH_PERSIST=2m
"$repo/deploy" preview --stack bench --expect-no-changes >/dev/null 2>&1
LABEL=" kept" measure preview --stack bench --expect-no-changes
unset NF_DEPLOY_SSH_PERSIST
site_load() { "$repo/deploy" preview --stack bench --expect-no-changes -v 2>&1 | sed -n 's/^loaded the site in \([0-9]*\) ms$/\1/p'; }
direct=$(site_load)
kept=$(NF_DEPLOY_SSH_PERSIST=2m site_load)
echo "bench: site load (-v) of one preview: ${direct} ms direct, ${kept} ms with the key kept by the broker"
