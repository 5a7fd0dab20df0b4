# stockade.sh: in-sandbox helpers for build scripts (POSIX sh, bash, zsh).
#
#   . /path/to/stockade/share/stockade.sh
#   stockade_active || echo "not sandboxed"
#   stockade_allow write "$PWD/build/***"
#
# Each function sends one command by stat'ing /dev/stockade/RULE and returns
# 0 when stockade applied it (or a query is true), non-zero otherwise: not
# under stockade, a bad rule, or a locked sandbox. The rule language is
# stockade's own (see the README).

# stockade_active: true inside a stockade sandbox that still takes commands.
stockade_active() {
    [ -e /dev/stockade ]
}

# stockade_cmd RULE: send any rule, e.g. stockade_cmd 'default/write:warn'.
stockade_cmd() {
    [ -e "/dev/stockade/$1" ]
}

# stockade_allow CATEGORY PATTERN: allow CATEGORY (read, write, exec, stat)
# for PATTERN, e.g. stockade_allow write "$T/***".
stockade_allow() {
    stockade_cmd "allow/$1+$2"
}

# stockade_deny CATEGORY PATTERN: deny (and report) CATEGORY for PATTERN.
stockade_deny() {
    stockade_cmd "deny/$1+$2"
}

# stockade_allow_net bind|connect ADDRESS: e.g.
# stockade_allow_net connect 127.0.0.1!8080, stockade_allow_net bind loopback!0.
stockade_allow_net() {
    stockade_cmd "allow/net/$1+$2"
}

# stockade_enable CATEGORY / stockade_disable CATEGORY: switch checking of a
# category on or off (net means bind and connect). A category that was off
# when stockade started cannot be switched on.
stockade_enable() {
    stockade_cmd "sandbox/$1:on"
}
stockade_disable() {
    stockade_cmd "sandbox/$1:off"
}

# stockade_enabled CATEGORY: true when checking of CATEGORY is on.
stockade_enabled() {
    stockade_cmd "sandbox/$1?"
}

# stockade_lock [on|exec]: stop taking commands, from everyone (on, the
# default) or from each process once it execs (exec).
stockade_lock() {
    stockade_cmd "lock:${1:-on}"
}
