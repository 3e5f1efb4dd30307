"""The slow disk (--lazyfs PATH): every node host's data directory is a lazyfs mount
(tests/lazyfs: a FUSE file system that passes everything through to a backing directory and
can make fsyncs wait), so that the `disk-stall` fault can stall one node's fsyncs.

lazyfs runs in the foreground, one process per host, in the orchestrator's mount namespace;
the servers, started later through `ip netns exec` (which copies the mounts it finds), see
the mounts. Its control file MOUNT/.lazyfs takes `stall-sync MS`: every fsync/fdatasync that
starts afterwards first waits MS milliseconds, until `stall-sync 0` (a sync already waiting
finishes its MS). Reading the control file gives its counters (syncs, syncs_stalled, ...).
"""

import os
import signal
import subprocess
import time

MOUNT_TIMEOUT_S = 10


class LazyDisks:
    """The lazyfs mounts of one run, by host. Not thread-safe: the orchestrator's threads
    take turns (setup, then the fault engine, then teardown)."""

    def __init__(self, binary, work_dir, results_dir):
        self.binary = binary
        self.work_dir = work_dir
        self.results_dir = results_dir
        self.mounts = {}  # host: (mount point, lazyfs process)

    def mount(self, host, mount_point):
        """Mounts lazyfs on the empty directory mount_point; raises RuntimeError, quoting
        lazyfs's output, when it is not mounted within MOUNT_TIMEOUT_S."""
        backing = os.path.join(self.work_dir, f"backing-h{host}")
        os.makedirs(backing)
        log_path = os.path.join(self.results_dir, f"lazyfs-h{host}.log")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([self.binary, backing, mount_point, "-f", "-o",
                                     "fsname=lazyfs"], stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.mounts[host] = (mount_point, proc)
        deadline = time.monotonic() + MOUNT_TIMEOUT_S
        while not (os.path.ismount(mount_point) and
                   os.path.exists(os.path.join(mount_point, ".lazyfs"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log_path, errors="replace") as log:
                    tail = "".join(log.readlines()[-10:])
                raise RuntimeError(f"lazyfs did not mount {mount_point} "
                                   f"(exit {proc.poll()}):\n{tail}")
            time.sleep(0.02)

    def stall(self, host, sync_ms):
        """Every later fsync on host's data directory waits sync_ms first; 0 ends it."""
        with open(os.path.join(self.mounts[host][0], ".lazyfs"), "w") as control:
            control.write(f"stall-sync {int(sync_ms)}")

    def counters(self, host):
        with open(os.path.join(self.mounts[host][0], ".lazyfs")) as control:
            return dict((name, int(value)) for name, value in
                        (line.split() for line in control if line.strip()))

    def unmount_all(self):
        """SIGTERM to every lazyfs (its exit unmounts), then a lazy unmount of whatever is
        still mounted (a lazyfs that did not end in time, or was killed)."""
        for mount_point, proc in self.mounts.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for mount_point, proc in self.mounts.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if os.path.ismount(mount_point):
                subprocess.run(["umount", "-l", mount_point], check=False)
        self.mounts.clear()
