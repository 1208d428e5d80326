#!/usr/bin/env bash
# The option handling every offline command shares (tools/cli.c, a table
# per command): --help on stdout with exit 0; an unknown option, a missing
# value, a value out of range, an extra or missing positional: one line
# naming the problem on stderr, the usage after it, exit 2. Options and
# positionals mix in any order, and `--` ends the options. No root.
. "$(dirname "$0")/lib.sh"
lab=$src/examples/prototype
expect=$src/examples/prototype/expect.yaml

# cli_err WANT_FIRST_LINE CMD...: exit 2, stderr's first line as given,
# the usage after it, nothing on stdout.
cli_err() {
	local want=$1
	shift
	cli_rc 2 "$@" || return
	[ "$(head -n 1 "$tmp/err")" = "$want" ] || fail "${*#"$bin "}: said '$(head -n 1 "$tmp/err")', want '$want'"
	grep -q '^usage: vpcfw ' "$tmp/err" || fail "${*#"$bin "}: no usage after the message"
	[ -s "$tmp/out" ] && fail "${*#"$bin "}: wrote to stdout"
}

for cmd in check lint diff test; do
	cli_rc 0 "$bin" $cmd --help && {
		grep -q "^usage: vpcfw $cmd" "$tmp/out" || fail "$cmd --help: no usage on stdout"
		[ -s "$tmp/err" ] && fail "$cmd --help: wrote to stderr"
	}
	cli_err "vpcfw $cmd: unknown or incomplete option '--bogus'" "$bin" $cmd --bogus
done

# values: a table's range, a command's own check, a missing value
cli_err "vpcfw check: bad value '70000' for --port" \
	"$bin" check "$lab" --from web-1 --to db-1 --proto tcp --port 70000
cli_err "vpcfw check: bad value 'x' for --icmp-type" \
	"$bin" check "$lab" --from web-1 --to db-1 --proto icmp --icmp-type x
cli_err "vpcfw check: bad value '9-1' for --ephemeral" \
	"$bin" check "$lab" --from web-1 --to db-1 --proto tcp --port 5432 --ephemeral 9-1
cli_err "vpcfw diff: bad value '0-5' for --ephemeral (LO-HI)" "$bin" diff "$lab" "$lab" --ephemeral 0-5
cli_err "vpcfw lint: bad severity 'loud' (note, warning, error)" "$bin" lint "$lab" --severity loud
cli_err "vpcfw test: bad --min-coverage '101' (0-100)" "$bin" test "$expect" --offline --min-coverage 101
cli_err "vpcfw check: unknown or incomplete option '--port'" "$bin" check "$lab" --port

# positionals: too many, too few
cli_err "vpcfw check: unexpected argument 'extra'" \
	"$bin" check "$lab" extra --from web-1 --to db-1 --proto tcp --port 5432
cli_err "vpcfw diff: unexpected argument 'third'" "$bin" diff "$lab" "$lab" third
cli_err "vpcfw lint: LAB is required" "$bin" lint --json
cli_err "vpcfw diff: OLD and NEW labs are required" "$bin" diff "$lab"
cli_err "vpcfw check: LAB, --from, --to and --proto are required" "$bin" check "$lab" --from web-1
cli_err "vpcfw test: EXPECT or --generate LAB is required (not both)" "$bin" test --offline

# options after positionals, and -- before the positionals (every word
# after it is one: vpcfw once read the first of them twice)
cli_rc 0 "$bin" check "$lab" --from web-1 --to db-1 --proto tcp --port 5432 --json &&
	grep -q '"verdict": *"ACCEPT"' "$tmp/out" || fail "check: options after LAB"
cli_rc 0 "$bin" diff --json -- "$lab" "$lab"
cli_rc 0 "$bin" diff "$lab" -- "$lab"
cli_err "vpcfw diff: unexpected argument 'third'" "$bin" diff -- "$lab" "$lab" third
cli_rc 0 "$bin" test --offline "$expect" --json

cli_finish options
