# check-config.awk: the configuration check of the nf-deploy Open5GS STAND-IN daemons (not Open5GS).
#
# Reads a YAML file of the subset Open5GS configs use (block mappings with 2- or 4-space indents, "- value" and
# "- key: value" list items, [a, b] flow lists, flat {k: v} flow mappings, # comments, quoted scalars) and checks it against a key list
# (keys/<nf>-<version>.txt, format in the README). POSIX awk (mawk, gawk, busybox).
#
#   awk -f check-config.awk -v keys=KEYFILE -v ver=1.3 [-v others="1.0=FILE 1.1=FILE"] [-v want="a.b c.d"] \
#       [-v lenient=1] [-v errto=/dev/stdout] CONFIG.yaml
#
# Exit 0: prints "PATH=v1,v2" for every PATH in `want` (normalised paths: no [], e.g. pgw.gtpc.addr).
# Exit 1: one line per problem, "CONFIG:LINE: message", on stderr (or on `errto`).
# lenient=1 only parses (lines it cannot read are skipped) and never fails: used by the UPF stand-in.

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
function norm(p) { gsub(/\[\]/, "", p); return p }
function unquote(v) {
  if (length(v) >= 2 && ((substr(v, 1, 1) == "\"" && substr(v, length(v), 1) == "\"") ||
                         (substr(v, 1, 1) == "'" && substr(v, length(v), 1) == "'")))
    return substr(v, 2, length(v) - 2)
  return v
}
# Removes a comment: '#' at the start or after a blank, outside quotes.
function uncomment(s,    i, c, q, prev) {
  q = ""; prev = " "
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (q != "") { if (c == q) q = "" }
    else if (c == "\"" || c == "'") { if (prev == " " || prev == ":" || prev == "[" || prev == ",") q = c }
    else if (c == "#" && (prev == " " || prev == "\t")) return substr(s, 1, i - 1)
    prev = c
  }
  return s
}
function parent_of(p) { if (p !~ /\./) return ""; sub(/\.[^.]*$/, "", p); return p }
function leaf_of(p) { sub(/^.*\./, "", p); return p }
function problem(line, msg) {
  if (lenient) return
  printf "%s:%s%s\n", FILENAME_SHOWN, (line == "" ? "" : line ":"), " " msg > errto
  nproblems++
}
# Marks path p (displayed form) and its ancestors as having content.
function mark(p,    n) {
  n = norm(p)
  while (n != "") { has[n] = 1; n = parent_of(n) }
}
function add_value(p, v,    n, t) {
  n = norm(p)
  t = (n in vals) ? vals[n] "," v : v
  vals[n] = t
  vline[n, ++nv[n]] = NR
  vval[n, nv[n]] = v
  mark(p)
}
function seen_key(p, line) {
  nkeys++; kpath[nkeys] = p; kline[nkeys] = line
  mark(parent_of(p))
}
function pop_to(indent) { while (sp > 0 && ind[sp] >= indent) sp-- }
function cur() { return sp > 0 ? path[sp] : "" }

# Handles "key: value" found at column `indent` (0-based).
function handle_key(indent, text, line,    key, value, p, inner, n, parts, i, e) {
  match(text, /^[^:]*:/)
  key = unquote(trim(substr(text, 1, RLENGTH - 1)))
  value = trim(substr(text, RLENGTH + 1))
  pop_to(indent)
  p = (cur() == "") ? key : cur() "." key
  seen_key(p, line)
  if (value == "" || value == "~" || value == "null") {
    sp++; ind[sp] = indent; path[sp] = p
  } else if (substr(value, 1, 1) == "[") {
    if (value !~ /\]$/) { problem(line, "flow list of '" p "' must close on the same line"); return }
    inner = trim(substr(value, 2, length(value) - 2))
    if (inner == "") return
    n = split(inner, parts, ",")
    for (i = 1; i <= n; i++) { e = unquote(trim(parts[i])); if (e != "") add_value(p, e) }
  } else if (substr(value, 1, 1) == "{") {
    inner = trim(substr(value, 2, length(value) - 2))
    if (value !~ /\}$/ || inner ~ /[][{}]/) { flowmap[p] = line; mark(p); return }
    if (inner == "") return
    n = split(inner, parts, ",")
    for (i = 1; i <= n; i++) {
      e = trim(parts[i])
      if (e !~ /^[^:]*:( |$)/) { flowmap[p] = line; mark(p); return }
      key = unquote(trim(substr(e, 1, index(e, ":") - 1)))
      e = unquote(trim(substr(e, index(e, ":") + 1)))
      seen_key(p "." key, line)
      if (e != "") add_value(p "." key, e)
    }
  } else if (value == "|" || value == ">" || value ~ /^[|>][-+0-9]*$/) {
    problem(line, "block scalar '" value "' under '" p "' is not read by the stand-in's YAML parser")
  } else {
    add_value(p, unquote(value))
  }
}

BEGIN {
  nproblems = 0; nkeys = 0; sp = 0
  if (errto == "") errto = "/dev/stderr"
  # --- the key list ---
  if (keys == "") { print "check-config.awk: -v keys=FILE missing" > "/dev/stderr"; fatal = 1; exit 2 }
  while ((r = getline kl < keys) > 0) {
    sub(/#.*/, "", kl); kl = trim(kl)
    if (kl == "") continue
    nf = split(kl, f, /[ \t]+/)
    kp = f[1]
    if (kp == "*") { allow_all = 1; continue }
    if (kp ~ /\.\*$/) { sub(/\.\*$/, "", kp); tolerated[norm(kp)] = 1; register(kp); continue }
    register(kp)
    for (i = 2; i <= nf; i++) {
      if (f[i] == "required") { nreq++; req[nreq] = kp }
      else if (f[i] == "file") filechk[norm(kp)] = 1
      else { print "check-config.awk: " keys ": unknown flag '" f[i] "'" > "/dev/stderr"; fatal = 1; exit 2 }
    }
  }
  if (r < 0) { print "check-config.awk: cannot read " keys > "/dev/stderr"; fatal = 1; exit 2 }
  close(keys)
  # --- the key lists of other versions, for hints ("ue_pool is read by Open5GS 1.0, 1.1, 1.2") ---
  no = split(others, ol, " ")
  for (i = 1; i <= no; i++) {
    eq = index(ol[i], "="); ov = substr(ol[i], 1, eq - 1); of = substr(ol[i], eq + 1)
    while ((getline kl < of) > 0) {
      sub(/#.*/, "", kl); split(trim(kl), f, /[ \t]+/); kp = f[1]
      if (kp == "" || kp == "*") continue
      sub(/\.\*$/, "", kp); kp = norm(kp)
      while (kp != "") {
        if (!((kp SUBSEP ov) in known_seen)) {
          known_seen[kp, ov] = 1
          t = (kp in known_in) ? known_in[kp] ", " ov : ov
          known_in[kp] = t
        }
        kp = parent_of(kp)
      }
    }
    close(of)
  }
}

# Registers key-list path kp (displayed form) and its ancestors; kids[parent] lists the child names in order.
function register(kp,    n, par, lf, t) {
  while (kp != "") {
    n = norm(kp)
    if (n in allowed) return
    allowed[n] = 1; shown[n] = kp
    par = norm(parent_of(kp)); lf = leaf_of(n)
    t = (par in kids) ? kids[par] ", " lf : lf
    kids[par] = t
    kp = parent_of(kp)
  }
}

{
  if (FNR == 1) FILENAME_SHOWN = FILENAME
  line = $0
  sub(/\r$/, "", line)
  if (line ~ /^[ \t]*$/ || line ~ /^[ \t]*#/) next
  if (line ~ /^(---|\.\.\.)[ \t]*$/ || line ~ /^%/) next
  if (match(line, /^ *\t/)) { problem(FNR, "tab in indentation (YAML allows only spaces)"); next }
  indent = match(line, /[^ ]/) - 1
  text = trim(uncomment(substr(line, indent + 1)))
  if (text == "") next

  if (text == "-" || substr(text, 1, 2) == "- ") {
    # a list item: its parent is the innermost key at this column (compact style) or left of it
    while (sp > 0 && ind[sp] > indent) sp--
    if (sp == 0) { problem(FNR, "a list at the top level (Open5GS expects a mapping)"); next }
    item = cur() "[]"
    mark(item)
    rest = substr(text, 2); sub(/^ +/, "", rest)
    sp++; ind[sp] = indent + 1; path[sp] = item
    if (rest == "") next
    if (rest ~ /^[A-Za-z0-9_"'][^ :]*:( |$)/) {
      handle_key(indent + length(text) - length(rest), rest, FNR)
    } else {
      sp--
      add_value(item, unquote(rest))
    }
    next
  }
  if (text ~ /^[A-Za-z0-9_"'][^ :]*:( |$)/) { handle_key(indent, text, FNR); next }
  problem(FNR, "cannot read '" text "' (the stand-in reads 'key: value', 'key:', '- value' and '- key: value' lines)")
}

# Is normalised path n under a subtree the key list accepts unchecked (parameter.*, nrf.*)?
function is_tolerated(n) {
  while (n != "") { if (n in tolerated) return 1; n = parent_of(n) }
  return 0
}

END {
  if (fatal) exit 2
  if (FILENAME_SHOWN == "") FILENAME_SHOWN = (ARGV[1] != "" ? ARGV[1] : "config")
  if (!allow_all) {
    for (i = 1; i <= nkeys; i++) {
      p = kpath[i]; n = norm(p)
      if (n in allowed || is_tolerated(n)) continue
      # report only the outermost unknown key of a subtree
      a = parent_of(n); skip = 0
      while (a != "") { if (a in unknown) { skip = 1; break } a = parent_of(a) }
      unknown[n] = 1
      if (skip) continue
      par = norm(parent_of(p))
      where = (par == "") ? "at the top level" : "under " shown[par]
      reads = (par in kids) ? kids[par] : "nothing below " shown[par]
      hint = ""
      if (n in known_in) hint = "; " leaf_of(n) " is read by Open5GS " known_in[n]
      problem(kline[i], "unknown key '" leaf_of(n) "' " where " (Open5GS " ver " reads: " reads hint ")")
    }
    for (p in flowmap) {
      if (!is_tolerated(norm(p)))
        problem(flowmap[p], "nested flow mapping {...} under '" p "' is not read by the stand-in's YAML parser: write it as a block")
    }
    for (i = 1; i <= nreq; i++) {
      n = norm(req[i])
      if (!(n in has))
        problem("", "missing " req[i] " (Open5GS " ver " does not start without it)")
    }
    for (n in filechk) {
      for (j = 1; j <= nv[n]; j++) {
        v = vval[n, j]
        if ((getline junk < v) < 0)
          problem(vline[n, j], shown[n] ": file '" v "' does not exist or is not readable (Open5GS " ver " fails to load it)")
        else close(v)
      }
    }
  }
  if (nproblems > 0) exit 1
  nw = split(want, w, " ")
  for (i = 1; i <= nw; i++) print w[i] "=" ((w[i] in vals) ? vals[w[i]] : "")
}
