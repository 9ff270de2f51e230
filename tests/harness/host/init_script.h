#pragma once
// The init script run as PID 1 of a fresh PID namespace (each step says why). It prepares a private
// view of the machine and then execs systemd. `set -eu` plus explicit checks: if any isolation
// step fails, systemd is never started.

namespace fleet::testing::detail {

inline constexpr const char* kInitScript = R"SH(#!/bin/sh
# Usage: init.sh <run-dir> <hostname>   (PID 1 of a new pid+mount+uts+ipc+cgroup namespace)
set -eu
RUN_DIR="$1"
NAME="$2"
die() { echo "fleet-host init: $*" >&2; exit 1; }
[ "$$" = 1 ] || die "not PID 1 of a new PID namespace"
mount --make-rprivate /
# Optionally a writable layer of the host's own over /usr, /etc and /var, on a tmpfs: package
# installs (binaries, units, conffiles, the dpkg database) stay inside the host. First, so that
# the private mounts and bind mounts below land on top of it.
if [ -e "$RUN_DIR/private-system" ]; then
  mkdir -p "$RUN_DIR/layers"
  mount -t tmpfs -o mode=700 tmpfs "$RUN_DIR/layers"
  for d in usr etc var; do
    mkdir -p "$RUN_DIR/layers/$d/upper" "$RUN_DIR/layers/$d/work"
    mount -t overlay overlay \
      -o "lowerdir=/$d,upperdir=$RUN_DIR/layers/$d/upper,workdir=$RUN_DIR/layers/$d/work" "/$d"
  done
fi
mount -t proc proc /proc
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /var/log
mount --bind /sys /sys
mount -o remount,bind,ro,nosuid,nodev,noexec /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname "$NAME"
# systemd sets the hostname from /etc/hostname at boot: give it the host's own.
echo "$NAME" > /run/hostname
mount --bind /run/hostname /etc/hostname
cp "$RUN_DIR/machine-id" /run/machine-id
chmod 444 /run/machine-id
mount --bind /run/machine-id /etc/machine-id

# Units that would act on machine-global state or start services enabled on the image.
mkdir -p /run/systemd/system.control /run/systemd/system /run/systemd/system-generators
for u in $(cat "$RUN_DIR/masks"); do
  ln -sf /dev/null "/run/systemd/system.control/$u"
done
for d in /usr/lib/systemd/system-generators /lib/systemd/system-generators \
         /etc/systemd/system-generators /usr/local/lib/systemd/system-generators; do
  [ -d "$d" ] || continue
  for g in "$d"/*; do
    [ -e "$g" ] || continue
    ln -sf /dev/null "/run/systemd/system-generators/$(basename "$g")"
  done
done
if [ -d "$RUN_DIR/units" ]; then
  for f in "$RUN_DIR"/units/*; do
    [ -e "$f" ] || continue
    cp "$f" /run/systemd/system/
  done
fi
cp "$RUN_DIR/fleet-boot.target" /run/systemd/system/fleet-boot.target
mkdir -p /run/fleet
cp "$RUN_DIR/host.env" /run/fleet/host.env

# Refuse to boot unless every private mount is really in place.
for m in /run /tmp /var/tmp /var/log; do
  [ "$(stat -f -c %T "$m")" = tmpfs ] || die "$m is not a private tmpfs"
done
[ "$(cat /etc/machine-id)" = "$(cat "$RUN_DIR/machine-id")" ] || die "machine-id not bound"
[ -L /run/systemd/system.control/systemd-tmpfiles-setup.service ] || die "masks missing"
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || die "cgroup2 not mounted"
if [ -e "$RUN_DIR/private-system" ]; then
  for d in /usr /etc /var; do
    [ "$(stat -f -c %T "$d")" = overlayfs ] || die "$d is not a private overlay"
  done
fi

export container=fleet-host
exec /usr/lib/systemd/systemd --system --unit=fleet-boot.target --log-target=console --log-level=notice
)SH";

inline constexpr const char* kMasks[] = {
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-tmpfiles-clean.service",
    "systemd-tmpfiles-clean.timer",
    "systemd-machine-id-commit.service",
    "systemd-firstboot.service",
    "systemd-sysusers.service",
    "systemd-sysctl.service",
    "systemd-modules-load.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "systemd-random-seed.service",
    "systemd-repart.service",
    "systemd-pcrphase.service",
    "systemd-pcrphase-sysinit.service",
    "systemd-timesyncd.service",
    "systemd-pstore.service",
    "systemd-update-utmp.service",
    "systemd-journal-flush.service",
    "systemd-journald-audit.socket",
    "kmod-static-nodes.service",
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "sys-fs-fuse-connections.mount",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
    "systemd-remount-fs.service",
    "systemd-fsck-root.service",
    "systemd-fsckd.socket",
    "tmp.mount",
    "ldconfig.service",
    "systemd-hwdb-update.service",
    "systemd-journal-catalog-update.service",
    "systemd-update-done.service",
    "systemd-boot-update.service",
    "systemd-networkd.service",
    "systemd-networkd.socket",
    "systemd-resolved.service",
    "networking.service",
    "getty.target",
    "getty-static.service",
    "console-getty.service",
    "container-getty@.service",
    "getty@.service",
    "serial-getty@.service",
    "timers.target",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "man-db.timer",
    "multi-user.target",
    "graphical.target",
    "etcd.service",
    "etcd2.service",
    "postgresql.service",
    "e2scrub_reap.service",
    "cron.service",
    "ssh.service",
    "systemd-logind.service",
    "rc-local.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
};

}  // namespace fleet::testing::detail
