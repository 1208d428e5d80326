# Shared by tests/integration/tgw*.sh (sourced, not a test of its own):
# real packets between the lab's hosts and `vpcfw check`'s verdict for
# each. Needs $lab, $VPCFW, $LAB and the associative array addr (host name
# -> address) of the calling test.
# shellcheck shell=bash

# verdict FROM ADDR PROTO [PORT]: the last line of `vpcfw check`
verdict() {
	"$VPCFW" check "$lab" --from "$1-$LAB" --to "$2" --proto "$3" ${4:+--port "$4"} |
		sed -n 's/^verdict: //p'
}
# agree FROM ADDR PROTO PORT EXPECTED: `vpcfw check` says EXPECTED too
agree() {
	check "vpcfw check: $1 -> $2 $3 ${4:-} $5" test "$(verdict "$1" "$2" "$3" "$4")" = "$5"
}
# pass / refuse FROM TO-NAME PROTO PORT: real packets, then check's verdict
pass() {
	local to=${addr[$2]}
	case $3 in
	tcp) check "$1 -> $2 tcp $4" tcp_reaches "$1" "$to" "$4" "hello-from-$2" ;;
	udp) check "$1 -> $2 udp $4" udp_reaches "$1" "$to" "$4" "hello-from-$2" ;;
	icmp) check "$1 -> $2 ping" ping_reaches "$1" "$to" ;;
	esac
	agree "$1" "$to" "$3" "$4" ACCEPT
}
refuse() {
	local to=${addr[$2]}
	case $3 in
	tcp) check "$1 -> $2 tcp $4 dropped" tcp_blocked "$1" "$to" "$4" ;;
	udp) check "$1 -> $2 udp $4 dropped" udp_blocked "$1" "$to" "$4" ;;
	icmp) check "$1 -> $2 ping dropped" ping_blocked "$1" "$to" ;;
	esac
	agree "$1" "$to" "$3" "$4" REJECT
}

