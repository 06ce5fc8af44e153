#!/usr/bin/env bash
# run-in-vm.sh JOB.sh [WORKDIR]: runs JOB.sh as root in a throw-away QEMU VM whose kernel has
# device-mapper, so that real LVM (lvcreate -s, lvremove, dmsetup, kpartx) works in tests. See README.md.
#
# The VM sees the host's root file system read-only under a RAM overlay, so every program installed
# on the host (node, lvm2, kpartx, ntfs-3g, this checkout at its own path) is there at the same path.
# WORKDIR (default: JOB.sh's folder) is shared read-write at the same path: jobs put results there.
# Writes anywhere else vanish when the VM stops.
#
# QEMU runs under software emulation (TCG): CPU-bound work is about 14x slower than on the host, a node
# process takes 0.6-2.7 s to start (the first one reads node over 9p), an LVM command ~0.4 s; booting
# takes ~4 s. Keep VM jobs small.
#
# Results, besides what the job writes:
#   WORKDIR/run-in-vm.log     the VM console (the job's stdout and stderr), also copied to stdout
#   WORKDIR/run-in-vm.dmesg   the guest kernel log, written after the job
#   WORKDIR/run-in-vm.json    {"exit":N,"bootSeconds":..,"jobSeconds":..,"wallSeconds":..}
# Exit status: the job's own; 124 when the VM did not finish within VM_TIMEOUT seconds (default 600);
# 125 when the VM could not be prepared or started (the reason is printed on stderr).
#
# Environment: VM_CACHE holds the kernel, downloaded once from the Debian mirror (default
# /var/cache/run-in-vm as root, ~/.cache/run-in-vm otherwise); VM_TIMEOUT; VM_MEM in MiB (default
# 1024); VM_CPUS (default 1). Root is not needed on the host: the job runs as root inside the VM.
# Needs Debian's qemu-system-x86 busybox-static cpio kmod (and lvm2, kpartx for the jobs); as root,
# missing ones are installed with apt-get.
set -euo pipefail

tmp= run=
trap 'rm -rf ${tmp:+"$tmp"} ${run:+"$run"}' EXIT
fail() { echo "run-in-vm: $*" >&2; exit 125; }

[[ $# -ge 1 && $# -le 2 ]] || fail "usage: run-in-vm.sh JOB.sh [WORKDIR]"
[[ -f $1 ]] || fail "job script '$1' not found"
job=$(readlink -f "$1")
work=$(readlink -f "${2:-$(dirname "$job")}")
[[ -d $work ]] || fail "WORKDIR '$work' is not a directory"
case $job in "$work"/*) ;; *) fail "the job ($job) must lie inside WORKDIR ($work)" ;; esac
# The kernel command line carries both paths: no spaces allowed there.
case "$job$work" in *[[:space:]]*) fail "the job and WORKDIR paths must not contain spaces" ;; esac
if [[ $(id -u) == 0 ]]; then cache=${VM_CACHE:-/var/cache/run-in-vm}; else cache=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/run-in-vm}; fi
timeout_s=${VM_TIMEOUT:-600}
mem_mib=${VM_MEM:-1024}
# One vCPU by default: on a busy two-core host, two TCG vCPUs made LVM commands 2-5x slower (measured).
cpus=${VM_CPUS:-1}
[[ $timeout_s =~ ^[0-9]+$ && $mem_mib =~ ^[0-9]+$ && $cpus =~ ^[0-9]+$ ]] ||
  fail "VM_TIMEOUT, VM_MEM and VM_CPUS must be whole numbers"

# Programs the harness needs on the host, with the Debian package that provides each.
missing=()
for p in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio depmod:kmod \
  lvcreate:lvm2 kpartx:kpartx gzip:gzip flock:util-linux timeout:coreutils; do
  command -v "${p%%:*}" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "${p%%:*}" >/dev/null 2>&1 ||
    missing+=("${p##*:}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "run-in-vm: installing ${missing[*]}" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") \
      >/dev/null 2>&1 || fail "could not install ${missing[*]} with apt-get"
  else
    fail "missing Debian packages: ${missing[*]} (install them: apt-get install ${missing[*]})"
  fi
fi
PATH=$PATH:/usr/sbin:/sbin

# --- the kernel and its modules, prepared once per VM_CACHE -------------------------------------
# The cached base initramfs holds busybox and the modules; the /init script is appended per run as a
# second cpio archive (the kernel unpacks concatenated archives in order), so a changed init never
# needs a new download.
kernel=$cache/snapclone-vmlinuz
base=$cache/snapclone-base-initrd.gz
mods="virtio_pci 9pnet_virtio 9p dm-snapshot loop overlay"
mkdir -p "$cache" 2>/dev/null || fail "cannot create VM_CACHE '$cache' (set VM_CACHE to a writable directory)"
if [[ ! -s $kernel || ! -s $base ]]; then
  exec 9>"$cache/.snapclone-build.lock" || fail "cannot write to VM_CACHE '$cache'"
  flock 9 # another run may be building the same cache
  if [[ ! -s $kernel || ! -s $base ]]; then
    echo "run-in-vm: preparing the VM kernel in $cache (once)" >&2
    tmp=$(mktemp -d)
    # The image package that the linux-image-amd64 meta package points at today.
    kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
    pkg=$(kpkg)
    [[ -n $pkg ]] || { apt-get update -qq >/dev/null 2>&1 || true; pkg=$(kpkg); }
    [[ -n $pkg ]] || fail "apt-cache knows no linux-image-amd64 package (run apt-get update with network access)"
    (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
      fail "could not download $pkg: the first run needs the Debian mirror (network access), then $cache is reused"
    dpkg -x "$tmp"/*.deb "$tmp/root"
    kver=$(ls "$tmp/root/lib/modules")
    depmod -b "$tmp/root" "$kver"
    moddir=$tmp/root/lib/modules/$kver
    rd=$tmp/initrd
    mkdir -p "$rd"/{bin,proc,sys,dev,host,upper,merged} "$rd/lib/modules/$kver"
    cp "$(command -v busybox)" "$rd/bin/busybox"
    for m in $mods; do
      deps=$(grep -E "/$m\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | tr -d ':') ||
        fail "module $m is not in $pkg"
      for f in $deps; do
        mkdir -p "$rd/lib/modules/$kver/$(dirname "$f")"
        cp "$moddir/$f" "$rd/lib/modules/$kver/$f"
      done
    done
    cp "$moddir"/modules.{dep,alias,builtin} "$rd/lib/modules/$kver/" 2>/dev/null || true
    (cd "$rd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$base.$$"
    cp "$tmp/root/boot/vmlinuz-$kver" "$kernel.$$"
    mv "$base.$$" "$base"
    mv "$kernel.$$" "$kernel"
    echo "$pkg" >"$cache/snapclone-kernel-package"
    rm -rf "$tmp"; tmp=
  fi
  exec 9>&-
fi

# --- this run's /init -----------------------------------------------------------------------------
run=$(mktemp -d)
log=$work/run-in-vm.log
status=$work/run-in-vm.json
rm -f "$log" "$status" "$work/run-in-vm.dmesg"
mkdir -p "$run/rd"
cat >"$run/rd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
# Kernel messages (e.g. loop devices refusing WRITE_ZEROES) would interleave with the job's output;
# they are saved to WORKDIR/run-in-vm.dmesg instead.
dmesg -n 1
for m in $mods; do modprobe \$m 2>/dev/null || echo "run-in-vm: modprobe \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose host /host || echo "run-in-vm: host share failed"
mount -t tmpfs tmpfs /upper; mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/host,upperdir=/upper/u,workdir=/upper/w /merged || echo "run-in-vm: overlay failed"
work=\$(sed -n 's/.*runinvm.work=\([^ ]*\).*/\1/p' /proc/cmdline)
job=\$(sed -n 's/.*runinvm.job=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t proc proc /merged/proc; mount -t sysfs sys /merged/sys; mount -t devtmpfs dev /merged/dev
mount -t tmpfs tmpfs /merged/run
mkdir -p "/merged\$work"
if mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 work "/merged\$work"; then
  booted=\$(cut -d' ' -f1 /proc/uptime)
  echo "RUN-IN-VM-START uptime=\$booted"
  chroot /merged /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DM_DISABLE_UDEV=1 LVM_SUPPRESS_FD_WARNINGS=1 RUN_IN_VM=1 /bin/bash -c "cd \$work && exec bash \$job"
  rc=\$?
  ended=\$(cut -d' ' -f1 /proc/uptime)
  dmesg > "/merged\$work/run-in-vm.dmesg" 2>/dev/null
  sync
  echo "RUN-IN-VM-TIMES boot=\$booted end=\$ended"
  echo "RUN-IN-VM-EXIT=\$rc"
else
  echo "run-in-vm: the WORKDIR share could not be mounted"
fi
poweroff -f
INIT
chmod +x "$run/rd/init"
(cd "$run/rd" && echo init | cpio -o -H newc 2>/dev/null | gzip -1) >"$run/init.gz"
cat "$base" "$run/init.gz" >"$run/initrd.gz"

# 9p "passthrough" keeps the guest's root ownership on WORKDIR files but needs a root QEMU; "none"
# works for ordinary users (ownership changes are ignored).
model=passthrough
[[ $(id -u) == 0 ]] || model=none

started=$(date +%s.%N)
set +e
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -m "$mem_mib" -smp "$cpus" -nographic -no-reboot \
  -kernel "$kernel" -initrd "$run/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 runinvm.work=$work runinvm.job=$job" \
  -virtfs local,path=/,mount_tag=host,security_model=$model,readonly=on,multidevs=remap \
  -virtfs "local,path=$work,mount_tag=work,security_model=$model" </dev/null 2>&1 |
  sed -u -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g' -e 's/\r$//' \
    -e '/^SeaBIOS/d; /^iPXE/d; /^Press Ctrl-B/d; /Booting from ROM/d' -e '/^[[:space:]]*$/d' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
ended=$(date +%s.%N)

rc=$(sed -n 's/^RUN-IN-VM-EXIT=\([0-9]*\)$/\1/p' "$log" | tail -n 1)
boot=$(sed -n 's/^RUN-IN-VM-TIMES boot=\([0-9.]*\) end=.*/\1/p' "$log" | tail -n 1)
end=$(sed -n 's/^RUN-IN-VM-TIMES boot=[0-9.]* end=\([0-9.]*\)$/\1/p' "$log" | tail -n 1)
wall=$(awk -v a="$started" -v b="$ended" 'BEGIN{printf "%.2f", b-a}')
job_s=null
[[ -n $boot && -n $end ]] && job_s=$(awk -v a="$boot" -v b="$end" 'BEGIN{printf "%.2f", b-a}')
if [[ -z $rc ]]; then
  if ((qrc == 124 || qrc == 137)); then
    echo "{\"exit\":124,\"bootSeconds\":${boot:-null},\"jobSeconds\":null,\"wallSeconds\":$wall}" >"$status"
    echo "run-in-vm: the VM did not finish within $timeout_s s (VM_TIMEOUT); console in $log" >&2
    exit 124
  fi
  echo "{\"exit\":125,\"bootSeconds\":${boot:-null},\"jobSeconds\":null,\"wallSeconds\":$wall}" >"$status"
  echo "run-in-vm: the VM stopped without reporting the job's exit status (qemu exit $qrc); console in $log:" >&2
  tail -n 20 "$log" >&2
  exit 125
fi
echo "{\"exit\":$rc,\"bootSeconds\":${boot:-null},\"jobSeconds\":$job_s,\"wallSeconds\":$wall}" >"$status"
exit "$rc"
