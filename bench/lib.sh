# Shared by bench/compare.sh and bench/sim.sh: a throw-away copy of the project, timing and medians.
# Nothing here asserts a speed: the figures are printed, and compared with the targets of issue 17 by a reader.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-nf-deploy-lab}" # the lab stack's secrets

# A copy of the project in $work with the bench's NF, roles and template added; $NF_DEPLOY_PROJECT points at it.
bench_project() { # work
  local work=$1
  cp -r "$repo/Pulumi.yaml" "$repo/roles" "$repo/nf" "$repo/templates" "$repo/stacks" "$work/"
  cp -r "$repo/bench/light/nf/." "$work/nf/"
  cp -r "$repo/bench/light/roles/." "$work/roles/"
  cp -r "$repo/bench/light/templates/." "$work/templates/"
  mkdir -p "$work/inventory"
  export NF_DEPLOY_PROJECT="$work"
}

deploy() { "$repo/deploy" "$@"; }

# Runs a program (not a shell function), appending "<wall s> <user+sys s> <peak RSS MB>" to the file $1; its output
# goes to $1.log. An exit code other than 0 (or $OK_EXIT: 3 for a drift check that found the drift) stops the bench.
timed() { # file command...
  local file=$1 rc=0; shift
  /usr/bin/time -f "%e %U %S %M" -o "$file.t" "$@" >>"$file.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != "${OK_EXIT:-0}" ]; then echo "bench: failed ($rc): $*" >&2; tail -20 "$file.log" >&2; return 1; fi
  tail -n1 "$file.t" | awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 / 1024 }' >>"$file"
}

# The median of column $2 (1: wall, 2: CPU, 3: RSS) of a file of samples; "-" when there is none.
median() { # file column
  [ -s "$1" ] || { echo "-"; return; }
  sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { # a b → a/b, or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
}

# The floor: `ssh host true` to every host at once (plain OpenSSH, a new connection each, in parallel).
ssh_floor() { # key known_hosts parallel endpoint...   (endpoint: address or address:port)
  local key=$1 known=$2 parallel=$3; shift 3
  printf '%s\n' "$@" | xargs -P "$parallel" -I{} sh -c 'a=${1%:*}; p=${1##*:}; [ "$a" = "$1" ] && p=22
    exec ssh -n -q -i "$2" -p "$p" -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$3" root@"$a" true' \
    _ {} "$key" "$known"
}
export -f ssh_floor

machine() { echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%d GB", $2 / 1048576 }' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"; }
