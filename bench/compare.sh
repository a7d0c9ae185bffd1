#!/usr/bin/env bash
# Benchmark (issue 17): nf-deploy, tuned Ansible (bench/ansible: forks = hosts, pipelining, ControlPersist) and the
# bare-SSH floor (`ssh host true` to every host at once) against the same lab hosts in one run, in turn, several
# repetitions, for: cold (fresh hosts), no-op, one template line, drift check (read-only), drift revert.
# Prints medians, nf-deploy / floor and Ansible / nf-deploy. It asserts nothing: compare with bench/results.md.
#   bench/compare.sh [SIZES] [REPS]     e.g. bench/compare.sh "10 20 50 100" 5   (default: "10" 3)
# Environment: SCENARIOS (default "noop template drift-check drift-revert cold"), LIGHT_ABOVE (20: larger sizes run
# bench/light's NF, files only, so the bench measures the engine rather than apt), COLD_MAX (20: cold only up to this
# size, COLD_REPS runs, default 1), KEEP=1 leaves the last lab up. Needs ansible (apt-get install ansible).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sizes=${1:-10}
reps=${2:-3}
scenarios=${SCENARIOS:-noop template drift-check drift-revert cold}
command -v ansible-playbook >/dev/null || { echo "bench: ansible-playbook not found (apt-get install ansible)" >&2; exit 2; }

work=$(mktemp -d /tmp/nfd-compare.XXXXXX)
bench_project "$work"
install -D -m 0644 /var/lib/nf-deploy/mirror/kamailiodebkey.gpg "$work/.nf-deploy/lab/mirror-key.asc"
sed -e 's/nf-deploy:inventory: lab/nf-deploy:inventory: bench/' -e 's/10\.211\.0/10.222.0/g' "$repo/stacks/Pulumi.lab.yaml" >"$work/stacks/Pulumi.bench.yaml"
key="$work/.nf-deploy/lab/id_ed25519"
known="$work/ssh_known_hosts"
export ANSIBLE_CONFIG="$repo/bench/ansible/ansible.cfg"
cleanup() {
  local rc=$?
  if [ "${KEEP:-0}" != 1 ]; then deploy destroy --stack bench --yes >/dev/null 2>&1 || true; fi
  # the samples of a bench that stopped on a failure are kept, to read
  if [ "$rc" != 0 ]; then echo "bench: samples kept in $work" >&2; elif [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

"$repo/scripts/setup-controller.sh" >/dev/null
deploy --help >/dev/null # builds ./deploy once, outside any timing
report="$work/report.md"
echo "bench: $(date -u '+%F %T UTC'), $(machine), sizes $sizes, $reps repetitions" | tee "$report"

inventory() { # hosts role
  cat >"$work/inventory/bench.yaml" <<YAML
lab: { network: nfd-bench, subnet: 10.222.0.0/24, gateway: 10.222.0.1 }
ssh: { user: root, key: .nf-deploy/lab/id_ed25519 }
groups:
  kamailio:
    count: $1
    name: "kamailio-{{ i }}"
    address: "10.222.0.{{ 10 + i }}"
    lab: true
    roles: [$2]
    vars: { listen_interface: eth0, dmq_hosts_entry: true }
YAML
  { echo "[kamailio]"
    for ((i = 1; i <= $1; i++)); do echo "kamailio-$i ansible_host=10.222.0.$((10 + i))"; done
    echo "[kamailio:vars]"
    echo "ansible_user=root"
    echo "ansible_ssh_private_key_file=$key"
    echo "ansible_ssh_common_args=-o UserKnownHostsFile=$known -o StrictHostKeyChecking=accept-new"
  } >"$work/ansible.ini"
}

on_all() { # hosts script: runs a script on every host at once (setup and drift, never timed)
  local n=$1; shift
  seq 1 "$n" | xargs -P "$n" -I{} sh -c 'ssh -n -q -i "$1" -o BatchMode=yes -o StrictHostKeyChecking=accept-new \
    -o UserKnownHostsFile="$2" root@10.222.0.$((10 + $3)) "$4"' _ "$key" "$known" {} "$*"
}

# fresh lab hosts with python3 (Ansible's need; nf-deploy's hosts get it too, so both start alike)
fresh() { # hosts
  deploy destroy --stack bench --yes >/dev/null 2>&1 || true
  rm -f "$known"
  inventory "$1" bench-bare
  deploy up --stack bench --yes -p "$1" >>"$work/setup.log" 2>&1
  on_all "$1" 'command -v python3 >/dev/null || { apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y python3-minimal python3-apt; } >/dev/null'
}

for hosts in $sizes; do
  role=sip-proxy; playbook=kamailio.yml; template="$work/templates/kamailio/kamailio.cfg.sbn"; drifted=/etc/kamailio/kamailio.cfg
  if [ "$hosts" -gt "${LIGHT_ABOVE:-20}" ]; then
    role=bench-light; playbook=light.yml; template="$work/templates/bench-light/peers.sbn"; drifted='/srv/nfd-bench/$(hostname)/app.conf'
  fi
  cp "$template" "$work/template.orig"
  samples="$work/$hosts"; mkdir -p "$samples"
  echo "bench: $hosts hosts ($role): creating the lab hosts..."
  fresh "$hosts"
  inventory "$hosts" "$role"
  deploy up --stack bench --yes -p "$hosts" >>"$work/setup.log" 2>&1
  endpoints=(); for ((i = 1; i <= hosts; i++)); do endpoints+=("10.222.0.$((10 + i))"); done

  converge() { cp "$work/template.orig" "$template"; deploy up --stack bench --yes -p "$hosts" >>"$work/setup.log" 2>&1; }
  rendered() { rm -rf "$work/rendered"; deploy render --stack bench --out "$work/rendered" >/dev/null; }
  ans=(ansible-playbook -i "$work/ansible.ini" -f "$hosts" "$repo/bench/ansible/$playbook" -e rendered="$work/rendered")

  for scenario in $scenarios; do
    [ "$scenario" = cold ] && [ "$hosts" -gt "${COLD_MAX:-20}" ] && continue
    n=$reps; [ "$scenario" = cold ] && n=${COLD_REPS:-1}
    for ((rep = 1; rep <= n; rep++)); do
      # the order of the tools alternates from one repetition to the next
      tools="nfd ansible floor"; [ $((rep % 2)) = 0 ] && tools="ansible nfd floor"
      for tool in $tools; do
        out="$samples/$scenario.$tool"
        if [ "$tool" = floor ]; then timed "$out" bash -c 'ssh_floor "$@"' _ "$key" "$known" "$hosts" "${endpoints[@]}"; continue; fi
        case $scenario in
          cold) fresh "$hosts"; inventory "$hosts" "$role"; rendered ;;
          noop) converge; rendered ;;
          template) converge; echo "# bench: one line changed (run $rep, $tool)" >>"$template"; rendered ;;
          drift-check | drift-revert) converge; rendered; on_all "$hosts" "echo '# drift' >>$drifted" ;;
        esac
        # a drift check finds the drift: nf-deploy exits 3, Ansible reports changes
        case $scenario:$tool in
          drift-check:nfd) OK_EXIT=3 timed "$out" "$repo/deploy" preview --stack bench --expect-no-changes -p "$hosts" ;;
          drift-check:ansible) timed "$out" "${ans[@]}" --check --diff ;;
          *:nfd) timed "$out" "$repo/deploy" up --stack bench --yes -p "$hosts" ;;
          *:ansible) timed "$out" "${ans[@]}" ;;
        esac
      done
    done
  done
  cp "$work/template.orig" "$template"
  {
    echo
    echo "### $hosts hosts ($role), median of $reps ($(machine))"
    echo
    echo "| scenario | nf-deploy s | Ansible s | ssh floor s | nf-deploy / floor | Ansible / nf-deploy | nf-deploy CPU s | nf-deploy peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|"
    for scenario in $scenarios; do
      [ -s "$samples/$scenario.nfd" ] || continue
      d=$(median "$samples/$scenario.nfd" 1); a=$(median "$samples/$scenario.ansible" 1); f=$(median "$samples/$scenario.floor" 1)
      echo "| $scenario | $d | $a | $f | $(ratio "$d" "$f") | $(ratio "$a" "$d") | $(median "$samples/$scenario.nfd" 2) | $(median "$samples/$scenario.nfd" 3) |"
    done
  } | tee -a "$report"
done
cp "$report" "$repo/bench/last-compare.md"
echo "bench: report in bench/last-compare.md"
