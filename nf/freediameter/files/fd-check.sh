#!/bin/sh
# fd-check CONF: validates a freeDiameter configuration before it replaces the running one. freeDiameterd has no
# check mode, so it is started on a copy with no listening ports and no peers, and must reach
# "freeDiameterd daemon initialized." (syntax, extensions, TLS credentials, CA and Identity are all checked then).
# Installed by nf-deploy.
conf="$1"
[ -r "$conf" ] || { echo "fd-check: cannot read $conf" >&2; exit 2; }
if grep -Eq '^[[:space:]]*ListenOn[[:space:]]*=[[:space:]]*"127\.' "$conf"; then
  echo "ListenOn 127.x: freeDiameter 1.2 ignores loopback addresses and would listen on every address" >&2; exit 1
fi
if ! command -v freeDiameterd >/dev/null 2>&1; then
  echo "fd-check: freeDiameterd is not installed here; only the loopback check was made" >&2; exit 0
fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
sed -e 's/^[[:space:]]*Port[[:space:]]*=.*/Port = 0;/' -e 's/^[[:space:]]*SecPort[[:space:]]*=.*/SecPort = 0;/' \
    -e '/^[[:space:]]*ConnectPeer/d' "$conf" > "$dir/check.conf"
# files that change with it (nf-deploy's NFD_SET, "PATH=NEW ..."): its new certificate and key in place
for r in $NFD_SET; do sed -i "s|\"${r%%=*}\"|\"${r#*=}\"|g" "$dir/check.conf"; done
grep -q '^Port = 0;' "$dir/check.conf" || echo 'Port = 0;' >> "$dir/check.conf"
grep -q '^SecPort = 0;' "$dir/check.conf" || echo 'SecPort = 0;' >> "$dir/check.conf"
freeDiameterd -c "$dir/check.conf" > "$dir/log" 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ]; do
  if grep -q 'freeDiameterd daemon initialized' "$dir/log"; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 0; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1; i=$((i+1))
done
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
echo "freeDiameterd refuses $conf:" >&2
grep -E 'FATAL|ERROR|error' "$dir/log" | sed 's/^[0-9:]* *//' | head -n 6 >&2
exit 1
