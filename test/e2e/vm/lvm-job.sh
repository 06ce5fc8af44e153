#!/usr/bin/env bash
# The VM job behind test/e2e/lvm.test.ts: builds a small LVM setup on loop devices, kills a run holding a
# snapshot with SIGKILL and lets `snapclone cleanup` clear it, runs lvm-scenarios.mjs, and checks that a
# live run is left alone and that SIGTERM cleans up. Everything observed goes to OUT (the VM's WORKDIR).
# Usage (inside run-in-vm.sh): REPO=/path/to/checkout OUT=/path/to/workdir bash lvm-job.sh
set -uo pipefail
: "${REPO:?}" "${OUT:?}"
VMDIR=$REPO/test/e2e/vm
CLI=$REPO/dist/src/cli/main.js
STATE=$OUT/state
SETS=$OUT/sets
mkdir -p "$SETS"
t0=$(date +%s.%N)
stamp() { echo "$1 $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')" >>"$OUT/timings.txt"; }
die() { echo "lvm-job: $*" >&2; exit 1; }
snapshots() { lvs --noheadings -o vg_name,lv_name,lv_tags --separator '|' | tr -d ' ' | sort; }

# Wait for a holder's READY file, or fail with its log.
await_ready() {
  for _ in $(seq 1 240); do [[ -s $1 ]] && return 0; sleep 0.25; done
  cat "$2" >&2
  die "no $1"
}

# --- LVM on loop devices: VG names with hyphens on purpose (device-mapper doubles them) ---------------
truncate -s 300M /tmp/pv1.img
truncate -s 100M /tmp/pv2.img
pv1=$(losetup -f --show /tmp/pv1.img) && pv2=$(losetup -f --show /tmp/pv2.img) || die "losetup failed"
pvcreate -q "$pv1" "$pv2" >/dev/null && vgcreate -q vm-disks "$pv1" >/dev/null && vgcreate -q small-vg "$pv2" >/dev/null || die "vgcreate failed"
lvcreate -q -y -L 64M -n win-xp vm-disks >/dev/null && lvcreate -q -y -L 16M -n other vm-disks >/dev/null &&
  lvcreate -q -y -L 64M -n data small-vg >/dev/null || die "lvcreate failed"
# An MBR with one partition, so that kpartx has something to map.
printf 'label: dos\nstart=2048, size=40960, type=7\n' | sfdisk -q /dev/vm-disks/win-xp >/dev/null 2>&1
stamp setup

# --- 1. a run killed with SIGKILL while its snapshot exists; `snapclone cleanup` clears it --------------
node "$VMDIR/hold-snapshot.mjs" vm-disks/win-xp "$STATE" "$OUT/victim1.json" "$SETS" 2>"$OUT/victim1.log" &
victim=$!
await_ready "$OUT/victim1.json" "$OUT/victim1.log"
snap=$(sed -n 's/.*"snapshot":"\([^"]*\)".*/\1/p' "$OUT/victim1.json")
kpartx -a "/dev/$snap" # a partition map on the snapshot, as an older tool would leave
kill -KILL "$victim"; wait "$victim" 2>/dev/null
# A tagged snapshot no journal knows (a lost journal, an older snapclone), and one that is not ours.
lvcreate -q -s -L 8M -n snapclone-other-20200101T000000Z --addtag snapclone --addtag snapclone-origin-vm--disks-other vm-disks/other >/dev/null
lvcreate -q -s -L 8M -n keep-me vm-disks/other >/dev/null
stamp victim1-killed
snapshots >"$OUT/kill-before.lvs"
dmsetup ls >"$OUT/kill-before.dm"
ls -A "$STATE/locks" "$STATE/journal" >"$OUT/kill-before.state" 2>&1
node "$CLI" cleanup --state-dir "$STATE" --dry-run --json >"$OUT/cleanup-dry.json" 2>"$OUT/cleanup-dry.err"
echo $? >"$OUT/cleanup-dry.status"
snapshots >"$OUT/after-dry.lvs"
node "$CLI" cleanup --state-dir "$STATE" --json >"$OUT/cleanup.json" 2>"$OUT/cleanup.err"
echo $? >"$OUT/cleanup.status"
snapshots >"$OUT/kill-after.lvs"
dmsetup ls >"$OUT/kill-after.dm"
ls -A "$STATE/locks" "$STATE/journal" >"$OUT/kill-after.state" 2>&1
ls -A "$SETS" >"$OUT/kill-after.sets"
stamp cleanup

# --- 2. another killed run, whose leftovers the next run's own start-of-run sweep removes ------------
node "$VMDIR/hold-snapshot.mjs" vm-disks/win-xp "$STATE" "$OUT/victim2.json" "$SETS" 2>"$OUT/victim2.log" &
victim=$!
await_ready "$OUT/victim2.json" "$OUT/victim2.log"
kill -KILL "$victim"; wait "$victim" 2>/dev/null
stamp victim2-killed
node "$VMDIR/lvm-scenarios.mjs" "$OUT" "$STATE" 2>"$OUT/scenarios.log" || { cat "$OUT/scenarios.log" >&2; die "lvm-scenarios.mjs failed"; }
stamp scenarios

# --- 3. a live run is left alone by cleanup; SIGTERM makes it clean up after itself ------------------
node "$VMDIR/hold-snapshot.mjs" vm-disks/win-xp "$STATE" "$OUT/victim3.json" "$SETS" 2>"$OUT/victim3.log" &
victim=$!
await_ready "$OUT/victim3.json" "$OUT/victim3.log"
node "$CLI" cleanup --state-dir "$STATE" --json >"$OUT/cleanup-live.json" 2>"$OUT/cleanup-live.err"
echo $? >"$OUT/cleanup-live.status"
snapshots >"$OUT/live-during.lvs"
kill -TERM "$victim"; wait "$victim"; echo $? >"$OUT/victim3.status"
snapshots >"$OUT/term-after.lvs"
ls -A "$STATE/locks" "$STATE/journal" >"$OUT/term-after.state" 2>&1
ls -A "$SETS" >"$OUT/term-after.sets"
stamp sigterm
echo "lvm-job: done"
