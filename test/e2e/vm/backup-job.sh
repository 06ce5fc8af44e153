#!/usr/bin/env bash
# The VM job behind test/e2e/backup.test.ts: `snapclone backup/verify/restore/cleanup` on real LVM, in
# one boot. An LV holds the bundled demo disk (MBR, a primary and a logical NTFS partition, filled
# through ntfs-3g on the host by fixtures/disk/make-demo-disk.sh; FUSE is not in the VM's kernel).
# Scenarios: four backups with --keep 3 (the last one with the guest frozen through a real agent),
# verify, restore onto a new LV in another VG (--create-lv), a too-small target, a backup killed with
# SIGKILL then `snapclone cleanup`, a full destination, and a snapshot about to overflow. Plain lvs,
# dmsetup, sfdisk, cmp and ntfsls/ntfscat outputs are saved to OUT for the test to judge.
# Usage (inside run-in-vm.sh): REPO=/path/to/checkout OUT=/path/to/workdir bash backup-job.sh
set -uo pipefail
: "${REPO:?}" "${OUT:?}"
CLI=$REPO/dist/src/cli/main.js
STATE=$OUT/state
SETS=$OUT/sets
snap() { node "$CLI" "$@"; }
t0=$(date +%s.%N)
stamp() { echo "$1 $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')" >>"$OUT/timings.txt"; }
die() { echo "backup-job: $*" >&2; exit 1; }
snapclone_lvs() { lvs --noheadings -o vg_name,lv_name --separator / @snapclone 2>/dev/null | tr -d ' ' | sort; }
snapclone_dm() { dmsetup ls 2>/dev/null | awk '{print $1}' | grep -i snapclone | sort; }
# What is left behind: snapclone snapshots, device-mapper devices, and entries in a directory.
leftovers() { { echo "lvs:$(snapclone_lvs | tr '\n' ' ')"; echo "dm:$(snapclone_dm | tr '\n' ' ')"; echo "dir:$(ls -A "$1" 2>/dev/null | tr '\n' ' ')"; } >"$OUT/$2.leftovers"; }
MiB=$((1024 * 1024))

# The VM's loopback interface starts down; the agent listens on it.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null || die "cannot bring up lo"

# --- the agent in the "guest", started first (node takes seconds to start here) ------------------------
# Its freeze and thaw commands note which snapclone snapshots exist at that moment.
ssh-keygen -q -t ed25519 -N '' -C hv -f "$OUT/hv.key" 2>/dev/null || snap keygen -o "$OUT/hv.key" -q || die "no key"
cat >"$OUT/agent-hook.sh" <<'HOOK'
#!/bin/sh
echo "$1 snapshots=[$(lvs --noheadings -o lv_name @snapclone 2>/dev/null | tr -d ' ' | tr '\n' ' ')]" >>"$AGENT_LOG"
HOOK
chmod +x "$OUT/agent-hook.sh"
export AGENT_LOG=$OUT/agent-events.log
node "$CLI" agent serve --listen 127.0.0.1:7410 --allow 127.0.0.1 --authorized-key "$OUT/hv.key.pub" \
  --freeze-cmd "$OUT/agent-hook.sh freeze" --thaw-cmd "$OUT/agent-hook.sh thaw" --max-freeze 60 2>"$OUT/agent.log" &
agent=$!

# --- LVM on loop devices: the VM's disk in vm-disks, an empty VG for restores ---------------------
truncate -s 160M /tmp/pv1.img
truncate -s 120M /tmp/pv2.img
pv1=$(losetup -f --show /tmp/pv1.img) && pv2=$(losetup -f --show /tmp/pv2.img) || die "losetup failed"
pvcreate -q "$pv1" "$pv2" >/dev/null && vgcreate -q vm-disks "$pv1" >/dev/null && vgcreate -q restore-vg "$pv2" >/dev/null || die "vgcreate failed"
# 48 MiB: the 40 MiB demo disk and an unpartitioned tail the overflow scenario writes to.
lvcreate -q -y -L 48M -n winxp vm-disks >/dev/null || die "lvcreate failed"
gzip -dc "$REPO/fixtures/disk/demo-disk.img.gz" | dd of=/dev/vm-disks/winxp bs=1M conv=fsync status=none || die "dd failed"
sfdisk -d /dev/vm-disks/winxp >"$OUT/original.sfdisk" 2>&1
stamp setup
for _ in $(seq 1 240); do grep -q 'listening' "$OUT/agent.log" 2>/dev/null && break; sleep 0.25; done
grep -q 'listening' "$OUT/agent.log" || die "the agent did not start: $(cat "$OUT/agent.log")"
stamp agent

# --- 1. four backups with --keep 3; the fourth with the guest frozen around lvcreate ----------------
for i in 1 2 3 4; do
  extra=()
  [[ $i == 4 ]] && extra=(--agent 127.0.0.1:7410 --key "$OUT/hv.key")
  snap backup vm-disks/winxp --dest "$SETS" --keep 3 --state-dir "$STATE" --level 9 --json "${extra[@]}" \
    >"$OUT/backup$i.json" 2>"$OUT/backup$i.err"
  echo $? >"$OUT/backup$i.status"
done
kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null
leftovers "$SETS" after-backups
ls -A "$SETS" >"$OUT/sets.after"
stamp backups
newest=$(ls -d "$SETS"/winxp-* | sort | tail -n 1)
echo "$newest" >"$OUT/newest.txt"

# --- 2. verify ------------------------------------------------------------------------------------
snap verify "$newest" --json >"$OUT/verify.json" 2>"$OUT/verify.err"
echo $? >"$OUT/verify.status"
snap list "$SETS" --json >"$OUT/list.json" 2>&1
stamp verify

# --- 3. restore onto a new LV in another VG; then a target that is too small ----------------------------
snap restore "$newest" --create-lv restore-vg/winxp-restored --json >"$OUT/restore.json" 2>"$OUT/restore.err"
echo $? >"$OUT/restore.status"
lvs --noheadings --units b --nosuffix -o lv_size restore-vg/winxp-restored 2>&1 | tr -d ' ' >"$OUT/restored.size"
sfdisk -d /dev/restore-vg/winxp-restored >"$OUT/restored.sfdisk" 2>&1
# The restored disk goes to OUT (sparse): the host compares its boot code, boot area and files with the
# fixture's (ntfsls/ntfscat run faster there).
dd if=/dev/restore-vg/winxp-restored of="$OUT/restored.img" bs=1M conv=sparse status=none
lvcreate -q -y -L 20M -n small restore-vg >/dev/null
dd if=/dev/zero bs=1M count=20 status=none | tr '\0' 'Z' >/dev/restore-vg/small
sha256sum /dev/restore-vg/small | cut -d' ' -f1 >"$OUT/small.before"
snap restore "$newest" /dev/restore-vg/small --overwrite -q 2>"$OUT/small.err"
echo $? >"$OUT/small.status"
sha256sum /dev/restore-vg/small | cut -d' ' -f1 >"$OUT/small.after"
stamp restore

# --- 4. a backup killed with SIGKILL while its snapshot exists, then `snapclone cleanup` ---------------
KILLED=$OUT/killed-sets
# node itself in the background (not the snap function: $! would be a subshell, and the kill miss node).
node "$CLI" backup vm-disks/winxp --dest "$KILLED" --state-dir "$STATE" --level 9 --threads 1 2>"$OUT/killed.err" &
victim=$!
for _ in $(seq 1 600); do
  tmpdir=$(ls -d "$KILLED"/.winxp-* 2>/dev/null | head -n 1)
  [[ -n $tmpdir ]] && ls "$tmpdir"/*.bz2 >/dev/null 2>&1 && [[ -n $(snapclone_lvs) ]] && break
  sleep 0.1
done
leftovers "$KILLED" kill-during
kill -KILL "$victim"; wait "$victim" 2>/dev/null
leftovers "$KILLED" kill-before
snap list "$KILLED" --json >"$OUT/kill-list.json" 2>&1
snap cleanup --state-dir "$STATE" --json >"$OUT/cleanup.json" 2>"$OUT/cleanup.err"
echo $? >"$OUT/cleanup.status"
leftovers "$KILLED" kill-after
ls -A "$STATE/locks" "$STATE/journal" >"$OUT/kill-after.state" 2>&1
stamp kill

# --- 5. a destination that fills up --------------------------------------------------------------
FULL=$OUT/full
mkdir -p /tmp/full && mount -t tmpfs -o size=300k tmpfs /tmp/full
snap backup vm-disks/winxp --dest /tmp/full --state-dir "$STATE" --level 9 -q 2>"$OUT/full.err"
echo $? >"$OUT/full.status"
leftovers /tmp/full full-after
umount /tmp/full
stamp full

# --- 6. a snapshot about to overflow: the origin is written to (in its unpartitioned tail) meanwhile ----
# 64 KiB every 0.25 s would fill the 4 MiB snapshot in about 16 s, while the partitions, saved raw, take
# longer. The watcher polls every second, but on one busy vCPU an lvs takes from 0.5 s to several
# seconds: --max-fill 30 leaves it room to see the fill rise well before the snapshot overflows.
( for k in $(seq 0 127); do
    [[ -e /tmp/stop-writer ]] && break
    dd if=/dev/urandom of=/dev/vm-disks/winxp bs=64K count=1 seek=$((640 + k)) oflag=direct conv=notrunc status=none
    sleep 0.25
  done ) &
writer=$!
snap backup vm-disks/winxp --dest "$OUT/overflow-sets" --state-dir "$STATE" --level 9 --threads 1 --raw 1 --raw 5 \
  --snapshot-size 4M --watch-interval 1 --max-fill 30 2>"$OUT/overflow.err"
echo $? >"$OUT/overflow.status"
touch /tmp/stop-writer
wait "$writer" 2>/dev/null
leftovers "$OUT/overflow-sets" overflow-after
stamp overflow
echo "backup-job: done"
