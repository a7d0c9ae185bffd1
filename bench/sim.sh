#!/usr/bin/env bash
# Benchmark at scale (issue 17): HOSTS simulated hosts as many sshd on distinct ports in a few containers of the lab
# image (CONTAINERS, default 5), on a Docker network created with Internal=true; each host of the inventory is an
# address and an ssh port. It runs bench/light's NF (files only), so it measures the engine's scheduling, memory and
# CPU per host where 500 containers would not fit: cold (first up), then REPS times in turn: no-op up, the floor
# (`ssh host true` to every host, PARALLEL at once), one template line, drift check (preview); then previews through
# kept connections (NF_DEPLOY_SSH_PERSIST: the first starts the broker, the others reuse it). It prints medians,
# nf-deploy / floor, and the engine's own figures (--json timings: CPU per host, peak RSS, connections, round trips).
# Each sshd runs in a UTS namespace of its own (the container has CAP_SYS_ADMIN), so each host has its own hostname.
# It asserts nothing: compare with bench/results.md.
#   bench/sim.sh [HOSTS] [REPS]        (default: 500 3; PARALLEL, default 64: nf-deploy's -p and the floor's;
#                                      KEEP=1 keeps the hosts and the work folder: each run's --json and stderr)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hosts=${1:-500}
reps=${2:-3}
containers=${CONTAINERS:-5}
parallel=${PARALLEL:-64}
image=${IMAGE:-nf-deploy/lab-base:bookworm}
per=$(((hosts + containers - 1) / containers))
network=nfd-sim
work=$(mktemp -d /tmp/nfd-sim.XXXXXX)
bench_project "$work"
ssh-keygen -q -t ed25519 -N "" -C nfd-sim -f "$work/id_ed25519"
chmod 0644 "$work/id_ed25519.pub"
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "bench: kept $work and the hosts (NF_DEPLOY_PROJECT=$work ./deploy up --stack sim; remove them with:" \
      "docker rm -f \$(docker ps -aq --filter label=nfd-bench=sim); docker network rm $network)" >&2
    return
  fi
  docker ps -aq --filter label=nfd-bench=sim | xargs -r docker rm -f >/dev/null
  docker network rm "$network" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
docker image inspect "$image" >/dev/null || { echo "bench: no image $image (scripts/setup-controller.sh or a lab up builds it)" >&2; exit 2; }
deploy --help >/dev/null # builds ./deploy once, outside any timing

# the network: internal (no route out), as the lab's (src/Deploy.Lab/LabNetwork.cs)
docker network create --internal --subnet 10.221.0.0/24 --gateway 10.221.0.1 --label nfd-bench=sim "$network" >/dev/null
endpoints=()
{
  echo "ssh: { user: root, key: id_ed25519 }"
  echo "hosts:"
  for ((c = 0; c < containers; c++)); do
    address=10.221.0.$((10 + c))
    # each sshd in a UTS namespace of its own, named as its host (nf-deploy keeps every host's hostname)
    docker run -d --name "nfd-sim-$c" --hostname "nfd-sim-$c" --network "$network" --ip "$address" --label nfd-bench=sim \
      --cap-add SYS_ADMIN -v "$work/id_ed25519.pub:/root/.ssh/authorized_keys:ro" "$image" /bin/sh -c \
      "ssh-keygen -A && mkdir -p /run/sshd && for p in \$(seq 2200 $((2200 + per - 1))); do
         unshare -u sh -c \"hostname sim-\$(($c * $per + \$p - 2199)) && exec /usr/sbin/sshd -p \$p\"; done; exec sleep infinity" >/dev/null
    for ((p = 0; p < per && c * per + p < hosts; p++)); do
      echo "  sim-$((c * per + p + 1)):"
      echo "    address: $address"
      echo "    ssh: { port: $((2200 + p)) }"
      echo "    roles: [bench-light]"
      endpoints+=("$address:$((2200 + p))")
    done
  done
} >"$work/inventory/sim.yaml"
printf 'config:\n  nf-deploy:inventory: sim\n' >"$work/stacks/Pulumi.sim.yaml"
key="$work/id_ed25519" known="$work/ssh_known_hosts"
for ((i = 0; i < 60; i++)); do ssh_floor "$key" "$known" "$parallel" "${endpoints[@]}" 2>/dev/null && break; sleep 1; done

report="$work/report.md"
echo "bench: $(date -u '+%F %T UTC'), $(machine), $hosts simulated hosts in $containers containers, -p $parallel" | tee "$report"
run() { # name verb...: nf-deploy with --json; samples and its timings kept
  local rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$work/$1.t" "$repo/deploy" "${@:2}" --stack sim -p "$parallel" --json >"$work/$1.json" 2>>"$work/$1.log" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != "${OK_EXIT:-0}" ]; then echo "bench: $* failed ($rc)" >&2; tail -20 "$work/$1.log" >&2; exit 1; fi
  tail -n1 "$work/$1.t" | awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 / 1024 }' >>"$work/$1" # (time adds a line for an exit code)
  python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["timings"]; print(t["cpuPerHostMs"], t["peakRssMb"], t["sshConnections"], t["roundTrips"],
    " ".join(k + "=" + str(v["ms"]) + (" (%d writes)" % v["count"] if k == "state" else "") for k, v in t["phases"].items()))' "$work/$1.json" >>"$work/$1.timings"
}
run cold up --yes
template="$work/templates/bench-light/peers.sbn"; cp "$template" "$work/template.orig"
for ((rep = 1; rep <= reps; rep++)); do
  run noop up --yes
  timed "$work/floor" bash -c 'ssh_floor "$@"' _ "$key" "$known" "$parallel" "${endpoints[@]}"
  echo "# bench: one line changed (run $rep)" >>"$template"
  run template up --yes
  cp "$work/template.orig" "$template"
  OK_EXIT=3 run drift-check preview --expect-no-changes # the template is back: every host has drifted from it
  run revert up --yes
done

# Repeat runs through kept connections (NF_DEPLOY_SSH_PERSIST, opt-in): the first preview starts the user's broker
# and connects, the next ones reuse its connections. The broker exits after its idle minute.
OK_EXIT=0 NF_DEPLOY_SSH_PERSIST=1m run persist-first preview --expect-no-changes
for ((rep = 1; rep <= reps; rep++)); do NF_DEPLOY_SSH_PERSIST=1m run persist preview --expect-no-changes; done

floor=$(median "$work/floor" 1)
{
  echo
  echo "| run | nf-deploy s (median) | / floor ($floor s) | CPU s | peak RSS MB | CPU per host ms, RSS MB, connections, round trips, phases (last run) |"
  echo "|---|---|---|---|---|---|"
  for name in cold noop template drift-check revert persist-first persist; do
    d=$(median "$work/$name" 1)
    echo "| $name | $d | $(ratio "$d" "$floor") | $(median "$work/$name" 2) | $(median "$work/$name" 3) | $(tail -n1 "$work/$name.timings") |"
  done
} | tee -a "$report"
cp "$report" "$repo/bench/last-sim.md"
echo "bench: report in bench/last-sim.md"
