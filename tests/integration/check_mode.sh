#!/usr/bin/env bash
# `vpcfwd -n` (like ntpd -n, nginx -t) and config errors: a broken lab
# (labs/broken.json) exits 2 with every problem named by file and JSON path,
# with or without -n, and creates nothing; a good lab passes -n with 0; a
# bad option value exits 2 too.
. "$(dirname "$0")/lib.sh"
itest_init
broken=$(lab_prepare broken)
good=$(lab_prepare basic)
ours() { ip netns list | awk '{print $1}' | grep -cE "^vpcfw-(.*-)?$LAB$"; }

out=$("$VPCFWD" -n --lab "$broken" --name "$LAB" 2>&1)
rc=$?
say "vpcfwd -n said: $(echo "$out" | head -n 3 | tr '\n' '|')"
check "-n on a broken lab exits 2" test "$rc" -eq 2
check "the message names the file" grep -qF "$broken" <<<"$out"
check "the message names the JSON path of the bad rule number" \
	grep -qF 'vpcs[0].nacls[0].ingress[0].rule' <<<"$out"
check "the message says what is wrong (40000 out of range)" grep -q '40000' <<<"$out"
check "all problems are reported, not only the first (unknown group)" \
	grep -q "vpcs\[0\]\.enis\[0\]\.groups\[0\].*no-such-group" <<<"$out"

out=$("$VPCFWD" --lab "$broken" --name "$LAB" --flow-log "$TMP/f/flow.log" 2>&1)
rc=$?
check "starting on a broken lab exits 2 too" test "$rc" -eq 2
check "... with the same message" grep -qF 'vpcs[0].nacls[0].ingress[0].rule' <<<"$out"
check "... before creating anything: no namespace" test "$(ours)" -eq 0
check "... no state directory" test ! -e "/run/vpcfw/$LAB"
check "... no flow-log directory" test ! -e "$TMP/f"

out=$("$VPCFWD" -n --lab "$TMP/does-not-exist.json" 2>&1)
rc=$?
check "-n on a missing file exits 2 naming it" \
	bash -c "[ $rc -eq 2 ] && grep -qF '$TMP/does-not-exist.json' <<<'$out'"
check "-n on a good lab exits 0" "$VPCFWD" -n --lab "$good" --name "$LAB"
check "-n on the built-in lab exits 0" "$VPCFWD" -n
"$VPCFWD" -n --lab "$good" --flow-log-format '${version} ${no-such-field}' 2>/dev/null
check "an unknown flow-log field exits 2" test $? -eq 2
"$VPCFWD" -n --lab "$good" --name 'bad/name' 2>/dev/null
check "a lab name that cannot name a namespace exits 2" test $? -eq 2
"$VPCFWD" --offloads maybe 2>/dev/null
check "a bad option value exits 2" test $? -eq 2
check "nothing was created by any of it" test "$(ours)" -eq 0

itest_finish
