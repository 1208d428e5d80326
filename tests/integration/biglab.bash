# The account-sized lab of ../shared/tools/biglab.py made unique to one run
# (sourced by integration/account_scale.sh and bench/scale.sh, never run).
# The generator names ENIs e0..eN-1 whatever the run, and each ENI's
# namespace is vpcfw-<Name>: two runs at once (or one left behind by a
# crash) would take each other's namespaces. A token appended to every ENI
# name keeps them apart, and lets a run find and remove exactly its own.

# biglab_tag TOKEN: lab JSON on stdin, the same with "-TOKEN" after every
# ENI's name on stdout. "e999-" plus a 5-character token is 10 characters,
# the longest namespace label the loader takes.
biglab_tag() {
	python3 -c 'import json, sys
lab = json.load(sys.stdin)
for v in lab["vpcs"]:
    for e in v.get("enis", []):
        e["name"] = e["name"] + "-" + sys.argv[1]
json.dump(lab, sys.stdout)' "$1"
}

# biglab_make GENERATOR N TOKEN OUT: the generator's lab of N ENIs, tagged
# with TOKEN, written to OUT; fails when the generator is missing or fails.
biglab_make() {
	local rc=0
	[ -f "$1" ] || { echo "biglab generator $1 not found" >&2; return 1; }
	python3 "$1" "$2" >"$4.raw" && biglab_tag "$3" <"$4.raw" >"$4" || rc=1
	rm -f "$4.raw"
	return "$rc"
}
