#!/usr/bin/env bash
# The Debian package (docs/operating.md, "The service"), built and checked: the release
# binary, its man pages and completions (`sixfold generate-assets`, from the
# clap definition), `cargo deb`, then on the package itself: its files, the
# conffile, the shipped configuration accepted by the packaged `sixfold check`,
# lintian with no error, and the packaged unit through `systemd-analyze verify`
# and `systemd-analyze security --offline=true` (exposure 3.0 or lower).
# scripts/test.sh runs it; it needs cargo-deb, lintian, systemd-analyze, man.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p sixfold
rm -rf target/assets
target/release/sixfold generate-assets target/assets
deb=$(cargo deb -p sixfold --no-build 2>/dev/null | tail -n 1)
[[ -f $deb ]] || { echo "cargo deb wrote no package" >&2; exit 1; }
echo "package: $deb"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
dpkg-deb -x "$deb" "$dir/root"
dpkg-deb -e "$deb" "$dir/control"

fail() { echo "package: $*" >&2; exit 1; }
for f in usr/bin/sixfold usr/lib/systemd/system/sixfold.service etc/sixfold/sixfold.toml \
    usr/share/sixfold/fastpath.conf \
    usr/share/bash-completion/completions/sixfold usr/share/zsh/vendor-completions/_sixfold \
    usr/share/fish/vendor_completions.d/sixfold.fish usr/share/man/man1/sixfold.1.gz \
    usr/share/doc/sixfold/README.md usr/share/doc/sixfold/docs/operating.md; do
    [[ -e $dir/root/$f ]] || fail "$f missing"
done
# A man page for every subcommand `sixfold --help` lists.
for sub in $("$dir/root/usr/bin/sixfold" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}'); do
    [[ $sub == help ]] && continue
    [[ -e $dir/root/usr/share/man/man1/sixfold-$sub.1.gz ]] || fail "no man page for sixfold $sub"
done
grep -qx /etc/sixfold/sixfold.toml "$dir/control/conffiles" || fail "/etc/sixfold/sixfold.toml is not a conffile"
# The way to stall a worker exists in test builds only (feature test-hooks).
if grep -aq "stalling worker" "$dir/root/usr/bin/sixfold"; then
    fail "the packaged binary has the test-only stall hook"
fi
# So does the way to make an upgrade's new process fail at a step (issue 24).
if grep -aq "SIXFOLD_TEST_HANDOVER" "$dir/root/usr/bin/sixfold"; then
    fail "the packaged binary has the test-only handover hook"
fi
# An upgrade of the package hands the running router over: postinst runs
# `sixfold upgrade` (cargo-deb: stop-on-upgrade and restart-after-upgrade off).
grep -q "sixfold upgrade" "$dir/control/postinst" || fail "postinst does not run sixfold upgrade"
"$dir/root/usr/bin/sixfold" check --config "$dir/root/etc/sixfold/sixfold.toml" >/dev/null \
    || fail "sixfold check refuses the shipped configuration"

lintian_out=$(lintian "$deb" 2>&1 || true)
echo "$lintian_out" | grep -v 'running with root privileges' || true
if grep -q '^E:' <<<"$lintian_out"; then
    fail "lintian reports errors"
fi

# The packaged unit, its command pointed at the packaged binary (nothing is
# installed on this machine) and its man pages found there.
mkdir "$dir/unit"
sed "s#/usr/bin/sixfold#$dir/root/usr/bin/sixfold#g" \
    "$dir/root/usr/lib/systemd/system/sixfold.service" >"$dir/unit/sixfold.service"
verify=$(MANPATH="$dir/root/usr/share/man" systemd-analyze verify "$dir/unit/sixfold.service" 2>&1)
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
security=$(systemd-analyze security --offline=true "$dir/root/usr/lib/systemd/system/sixfold.service" 2>&1)
score=$(grep -o 'Overall exposure level for sixfold.service: [0-9.]*' <<<"$security" | awk '{print $NF}')
[[ -n $score ]] || fail "systemd-analyze security: no score: $security"
echo "systemd-analyze security --offline=true: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score is above 3.0"
base_score=$score

# The fast path's drop-in (issue 27) on top of the unit, as systemd would
# merge it: still a unit systemd verifies, its exposure still 3.0 or lower.
awk -v drop="$dir/root/usr/share/sixfold/fastpath.conf" '
    { print }
    /^SystemCallFilter=~@privileged/ {
        while ((getline line < drop) > 0)
            if (line !~ /^#/ && line != "" && line != "[Service]") print line
    }' "$dir/unit/sixfold.service" >"$dir/unit/merged.service"
grep -q '^AmbientCapabilities=CAP_BPF' "$dir/unit/merged.service" || fail "the fast path drop-in was not merged"
mv "$dir/unit/merged.service" "$dir/unit/sixfold.service"
verify=$(MANPATH="$dir/root/usr/share/man" systemd-analyze verify "$dir/unit/sixfold.service" 2>&1)
[[ -z $verify ]] || fail "systemd-analyze verify (with the fast path drop-in): $verify"
security=$(systemd-analyze security --offline=true "$dir/unit/sixfold.service" 2>&1)
score=$(grep -o 'Overall exposure level for sixfold.service: [0-9.]*' <<<"$security" | awk '{print $NF}')
echo "systemd-analyze security --offline=true, with the fast path drop-in: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure with the fast path drop-in $score is above 3.0"
echo "package: ok (lintian: no error; unit verified; exposure $base_score, $score with the fast path drop-in)"
