# What the CLI tests share (sourced, not a test): the binary, the source
# tree, a scratch directory removed on exit, and fail() counting failures.
set -u
BIN="${VPCFW_BINARY_DIR:?}/vpcfw"
SRC="${VPCFW_SOURCE_DIR:?}"
CORPUS="$SRC/../shared/corpus"
TMP=$(mktemp -d "/tmp/vpcfw-${0##*/}.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
