#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

// What a power loss would take from the files under a lazyfs mount, and how to take it.
//
// lazyfs writes through to the backing file at once, so reads need no merging and every
// process sees the plain file. Beside it, it remembers how to undo what was not synced: for
// each file changed since its last fsync/fdatasync, the size it had at that sync, and the
// bytes it held then wherever they were overwritten or cut off since. sync() forgets that
// record (the file's state is durable); drop() applies every record (each file goes back to
// its last sync, as after a power loss that lost every unsynced page). Unsynced writes cost
// memory only where they overwrite synced bytes: appends past the synced size cost nothing,
// since going back to that size removes them.
//
// Files are known by inode, so renames and hard links need nothing more. A record keeps its
// own descriptor of the file, which pins the inode: its number cannot be reused under it.
//
// Only file data and size are modelled. Directory operations (create, rename, unlink, mkdir)
// are durable at once, as if every directory were fsynced after each change: a test on lazyfs
// checks the data a program syncs, not the order of its directory entries.
//
// Thread-safe: one mutex around every change, so a write and the bytes it saved are one step
// and drop() never sees half of a change. Reads need no lock (they go to the backing file).

namespace raftkv::lazyfs {

struct UnsyncedStats {
  size_t files = 0;           // Files with unsynced changes now.
  uint64_t saved_bytes = 0;   // Synced bytes held in memory now, to restore them.
  uint64_t syncs = 0;         // sync() calls so far.
  uint64_t drops = 0;         // drop() calls so far.
  uint64_t files_dropped = 0;  // Files drop() took back to their last sync, in total.
};

class UnsyncedWrites {
 public:
  UnsyncedWrites() = default;
  ~UnsyncedWrites();
  UnsyncedWrites(const UnsyncedWrites&) = delete;
  UnsyncedWrites& operator=(const UnsyncedWrites&) = delete;

  // Each call below takes a descriptor of the backing file, open for reading and writing,
  // makes the change itself and returns what a FUSE handler returns: >= 0 on success, else
  // -errno (nothing was changed, or the backing file failed part way).

  // pwrite of [data, data + size) at `offset`, or at the end of the file if `append`.
  // Returns the bytes written.
  [[nodiscard]] ssize_t write(int fd, const char* data, size_t size, off_t offset, bool append);
  // ftruncate to `size`.
  [[nodiscard]] int truncate(int fd, off_t size);
  // fallocate; modes other than 0 and FALLOC_FL_KEEP_SIZE are -EOPNOTSUPP (they would change
  // bytes inside the file, which this record does not model).
  [[nodiscard]] int allocate(int fd, int mode, off_t offset, off_t length);
  // fsync/fdatasync of the file: what it holds now is what a power loss leaves.
  [[nodiscard]] int sync(int fd);

  // unlinkat(dir_fd, path) and renameat2(dir_fd, from, dir_fd, to, flags): a file that loses
  // its last name this way leaves no record behind.
  [[nodiscard]] int unlink(int dir_fd, const char* path);
  [[nodiscard]] int rename(int dir_fd, const char* from, const char* to, unsigned flags);

  // The power loss: every file goes back to its size and bytes at its last sync; every record
  // is gone afterwards. Returns the number of files restored, or -errno of the first failure
  // (the rest are restored anyway).
  [[nodiscard]] int drop();

  [[nodiscard]] UnsyncedStats stats() const;

 private:
  struct Record {
    int fd = -1;               // Our own descriptor of the file (dup): pins the inode.
    uint64_t synced_size = 0;  // The size at the last sync.
    // Bytes of [0, synced_size) as they were at the last sync, where they have changed since:
    // offset -> bytes. The ranges never overlap.
    std::map<uint64_t, std::string> saved;
  };
  using Key = std::pair<dev_t, ino_t>;

  // The record of the file open as `fd` (`info` is its fstat), made if it has none; nullptr
  // with *error = -errno if a new one cannot get its descriptor.
  Record* record_for(int fd, const struct stat& info, int* error);
  // Saves the bytes of [lo, hi) that were synced and are not saved yet: the range is about to
  // change. 0 or -errno.
  int save(Record& record, uint64_t lo, uint64_t hi);
  // The file `victim` (its stat before the call) lost a name; if that was its last, the
  // record goes: nothing can reach the file's data after a power loss.
  void forget_if_last_name(const struct stat& victim);
  // Puts the file back as it was at its last sync. 0 or -errno.
  static int restore(const Record& record);
  void erase(std::map<Key, Record>::iterator at);

  mutable std::mutex mutex_;
  std::map<Key, Record> records_;  // Files with unsynced changes. Guarded by mutex_.
  uint64_t saved_bytes_ = 0;       // Sum of the records' saved bytes. Guarded by mutex_.
  uint64_t syncs_ = 0;             // Guarded by mutex_.
  uint64_t drops_ = 0;             // Guarded by mutex_.
  uint64_t files_dropped_ = 0;     // Guarded by mutex_.
};

}  // namespace raftkv::lazyfs
