# Sourced by the old-against-new scripts (bench/ServeLoad/run.sh, bench/latency/pair.sh):
#   . bench/old-and-new.sh NAME BASE "NEW_PROJECTS" "OLD_PROJECTS"
# builds NEW_PROJECTS of this tree, and OLD_PROJECTS of BASE once under /tmp/NAME-<short BASE> from `git archive` (no
# worktree: nothing in .git changes), prints the machine and both revisions, and sets root, old and bin.
old_and_new() {
    local name=$1 base=$2 new_projects=$3 old_projects=$4 project missing=
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    old=/tmp/$name-$(git -C "$root" rev-parse --short "$base")
    bin=bin/Release/net10.0
    echo "# $(date -u '+%F %T') UTC; $(lscpu | grep 'Model name' | sed 's/  */ /g'); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# old: $base ($old); new: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ' + uncommitted changes')"
    for project in $new_projects; do dotnet build "$root/$project" -c Release -nologo -v q > /dev/null; done
    for project in $old_projects; do [ -d "$old/$project/$bin" ] || missing=1; done
    if [ -n "$missing" ]; then
        mkdir -p "$old"
        git -C "$root" archive "$base" | tar -x -C "$old"
        for project in $old_projects; do dotnet build "$old/$project" -c Release -nologo -v q > /dev/null; done
    fi
}
old_and_new "$@"
