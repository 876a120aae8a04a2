// A segmented write-ahead log with group commit: where ingested events become durable before
// Weir acknowledges them, and what recovery replays from a checkpoint's position.
//
//   WEIR_ASSIGN_OR_RETURN(auto wal, state::Wal::Open({.dir = data_dir + "/wal"}));
//   if (wal->recovery().action != state::RecoveryAction::kClean) WEIR_LOG_WARN("{}", wal->recovery().ToString());
//   // HTTP threads: answer 202 only once the batch is durable.
//   wal->Append(source_tag, body, [responder](Status st, state::Lsn) {
//     st ? responder.Accepted() : responder.Unavailable(st.error());
//   });
//   // Restart: replay everything after the last checkpoint, then drop what it covers.
//   WEIR_ASSIGN_OR_RETURN(auto reader, wal->Read(checkpoint.wal_position));
//   state::WalRecord rec;
//   while (true) {
//     WEIR_ASSIGN_OR_RETURN(bool more, reader->Next(rec));
//     if (!more) break;
//     Replay(rec.tag, rec.payload);
//   }
//   WEIR_RETURN_IF_ERROR(wal->TruncateBefore(checkpoint.wal_position));
//
// Format, guarantees and the corruption policy are described in src/weir/state/README.md.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "weir/base/result.h"
#include "weir/base/time.h"

namespace weir::state {

class SegmentBuffer;  // wal.cc: buffered reads of one segment file

/// A position in the logical log: a byte offset that keeps growing across segment files. A
/// record's LSN is where it starts; "next" is where the record after it starts, so a checkpoint
/// that stores a next LSN says "everything before this is applied".
using Lsn = uint64_t;

/// Bytes in front of every record on disk (magic, checksum, length, tag).
inline constexpr size_t kWalHeaderBytes = 20;

/// When appended bytes are forced to stable storage before the append is acknowledged.
enum class FsyncMode {
  /// Each group commit is fdatasync'ed before its callbacks run.
  kAlways,
  /// At most one fdatasync per fsync_interval (counted from the previous one's start); callbacks
  /// run after the one that covers them.
  kInterval,
  /// Callbacks run once the bytes are written to the OS: survives a process crash, not a machine crash.
  kNever,
};

/// What Open does when the newest segment holds a bad record with valid records after it
/// (a damaged record in the middle rather than a torn tail).
enum class CorruptionPolicy {
  kQuarantine,  ///< move the bad record and everything after it to `<lsn>.corrupt`, report loudly, go on
  kFail,        ///< refuse to open, change nothing on disk
};

struct WalOptions {
  std::string dir;  ///< created if missing; one Wal per directory (enforced with a lock file)
  FsyncMode fsync = FsyncMode::kInterval;
  Duration fsync_interval = 5;          ///< ms; the group commit window for kInterval
  size_t segment_bytes = 64 << 20;      ///< start a new segment file once a record would pass this
  size_t max_record_bytes = 64 << 20;   ///< larger payloads are refused (the WAL stays usable)
  size_t max_pending_bytes = 32 << 20;  ///< Append blocks while this much is accepted but not yet written
  CorruptionPolicy on_corruption = CorruptionPolicy::kQuarantine;
  /// Testing only: the first write that would take this instance's total written bytes past
  /// this many writes up to the limit and then fails as if the disk were full (ENOSPC).
  std::optional<uint64_t> test_fail_after_bytes;
};

/// One record as read back. `payload` points into the reader's buffer and stays valid until
/// the next call to Reader::Next.
struct WalRecord {
  Lsn lsn = 0;   ///< where the record starts
  Lsn next = 0;  ///< where the following record starts
  uint32_t tag = 0;
  std::string_view payload;
};

/// What Open found at the end of the newest segment.
enum class RecoveryAction {
  kClean,           ///< the segment ended on a whole record
  kCutTornRecord,   ///< a partial record (crash during a write) was cut
  kCutZeroTail,     ///< zero bytes past the last record (extended or preallocated file) were cut
  kCutCorruptTail,  ///< bytes that are not a valid record, with no valid record after them, were cut
  kQuarantined,     ///< a bad record with valid records after it: the rest was moved aside (see CorruptionPolicy)
};

std::string_view RecoveryActionName(RecoveryAction a);

/// A range of LSNs [begin, end).
struct LsnRange {
  Lsn begin = 0;
  Lsn end = 0;
  bool operator==(const LsnRange&) const = default;
};

/// What Open found and did, for the log and for /api/v1/status.
struct RecoveryReport {
  RecoveryAction action = RecoveryAction::kClean;
  std::string segment;           ///< path of the segment that was cut (empty when clean)
  Lsn cut_at = 0;                ///< LSN of the first byte removed
  uint64_t bytes_cut = 0;        ///< bytes removed from the segment
  std::string reason;            ///< why the record at cut_at was rejected
  uint64_t records_after = 0;    ///< kQuarantined: valid records found after the bad one
  std::string quarantine_path;   ///< kQuarantined: where the removed bytes are kept
  uint64_t records_scanned = 0;  ///< whole records in the newest segment
  Lsn end_lsn = 0;               ///< where appending resumes
  /// Holes between segments not explained by a quarantine file (a segment file was deleted or
  /// shortened by hand or by the disk). Replay fails if it has to cross one.
  std::vector<LsnRange> missing;
  std::string ToString() const;
};

/// Counters for /metrics and for tuning the group commit.
struct WalStats {
  uint64_t appends = 0;         ///< records accepted
  uint64_t appended_bytes = 0;  ///< bytes accepted, headers included
  uint64_t groups = 0;          ///< group commits (one write pass, at most one fdatasync)
  uint64_t fsyncs = 0;          ///< fdatasync calls on segments (group commits, sealed segments, Close)
  int64_t last_fsync_nanos = 0;
  int64_t max_fsync_nanos = 0;
  size_t segments = 0;         ///< segment files retained
  uint64_t pending_bytes = 0;  ///< accepted, not yet handed to the flusher
  bool failed = false;
};

/// A segmented write-ahead log with one flusher thread that writes and syncs appended records in
/// groups. Thread-safe: any number of threads may Append, Read, TruncateBefore and query it.
///
/// Failure: an I/O error while writing or syncing (disk full, EIO, a segment that cannot be
/// created) puts the WAL into a failed state. The group being written and every record queued
/// after it get the error in their callbacks (records of that group may or may not be on disk
/// after a restart: they were not acknowledged); later appends fail at once with the same error.
/// The state lasts until the Wal is closed and opened again, which runs recovery. A failed
/// fdatasync is never retried: after one, what the page cache holds is unknown.
class Wal {
 public:
  /// Called exactly once per Append: ok with the record's next LSN once the record is durable
  /// under the fsync mode, or an error (next is then 0).
  using DurableCallback = std::function<void(Status, Lsn next)>;

  /// Opens or creates the log in options.dir and recovers the newest segment: a torn, zeroed or
  /// corrupt tail is cut; a bad record in the middle follows options.on_corruption. recovery()
  /// says what was found. Older segments were synced when sealed and are not rescanned; a bad
  /// record in one of them is reported by the Reader that meets it.
  static Result<std::unique_ptr<Wal>> Open(WalOptions options);
  ~Wal();  ///< Close()

  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  const RecoveryReport& recovery() const { return recovery_; }
  const WalOptions& options() const { return options_; }

  /// Appends one record. Records are written in the order their Append calls take the WAL's lock;
  /// `durable` runs on the WAL's flusher thread, in LSN order, after the record is durable. It runs
  /// inline on the caller's thread, with an error, when the payload is larger than
  /// max_record_bytes or the WAL is closed or failed. Blocks while max_pending_bytes are queued
  /// (backpressure). The callback must be quick, must not throw, and must not call Append,
  /// AppendSync or Close: it runs on the flusher thread, which those may wait for. An empty
  /// callback is allowed (fire and forget).
  void Append(uint32_t tag, std::string_view payload, DurableCallback durable);
  /// Append and wait: returns the record's next LSN once it is durable.
  Result<Lsn> AppendSync(uint32_t tag, std::string_view payload);

  /// Iterates durable records in LSN order. Not thread-safe itself (one per thread); safe while
  /// others append (it sees a growing prefix: records become visible once durable). Must not
  /// outlive its Wal.
  class Reader {
   public:
    ~Reader();
    /// Fills `out` with the next record and returns true, or returns false at the end of what is
    /// durable now (call again later to follow new appends). A corrupt record, a missing segment
    /// or an I/O error is returned as an error naming the file and LSN, and stays.
    Result<bool> Next(WalRecord& out);
    /// LSN of the record the next call returns.
    Lsn position() const { return pos_; }
    /// Bytes passed over because they were quarantined at an earlier recovery.
    uint64_t skipped_bytes() const { return skipped_; }

   private:
    friend class Wal;
    Reader(const Wal* wal, Lsn from);
    Status OpenSegment(Lsn start);

    const Wal* wal_;
    Lsn pos_;
    Lsn seg_start_ = 0;
    int fd_ = -1;
    std::string path_;
    Lsn limit_ = 0;  ///< readable bytes of the open segment end here (durable end or sealed end)
    uint64_t skipped_ = 0;
    bool returned_any_ = false;
    std::optional<Error> error_;
    std::unique_ptr<SegmentBuffer> buf_;
  };

  /// A reader starting at `from`: the start of a record (a checkpoint's next LSN, first_lsn(),
  /// or end_lsn()). Fails if `from` is before first_lsn() (truncated away) or after end_lsn().
  /// A `from` inside a record is reported by the first Next().
  Result<std::unique_ptr<Reader>> Read(Lsn from) const;

  Lsn first_lsn() const;  ///< start of the oldest retained segment
  Lsn end_lsn() const;    ///< where the last durable record ends

  /// Deletes segment files whose records all lie before `lsn` (call after a checkpoint at `lsn`
  /// is durable). The segment being written is never deleted. Quarantine files are kept.
  Status TruncateBefore(Lsn lsn);

  /// Stops accepting appends, writes and fdatasyncs everything accepted (in every fsync mode),
  /// runs the pending callbacks and stops the flusher thread. Idempotent.
  void Close();

  WalStats stats() const;

  /// File name of the segment that starts at `start`: 20 decimal digits, ".wal".
  static std::string SegmentFileName(Lsn start);

 private:
  struct Segment {
    Lsn start = 0;
    Lsn end = 0;  ///< sealed segments only
    bool sealed = false;
  };
  struct Waiter {
    Lsn next;
    DurableCallback callback;
  };
  /// Records accepted and not yet written: the flusher swaps the whole group out at once.
  struct Group {
    std::string bytes;       ///< encoded records, back to back
    Lsn start = 0;           ///< LSN of bytes[0]
    std::vector<Lsn> rolls;  ///< LSNs inside this group where a new segment starts
    std::vector<Waiter> waiters;
  };
  /// What a reader may read of the segment starting at `start`.
  struct SegmentView {
    bool found = false;
    bool sealed = false;
    Lsn end = 0;    ///< sealed: where the segment ends
    Lsn limit = 0;  ///< readable up to here now
  };

  explicit Wal(WalOptions options);
  Status Recover();
  Status QuarantineAndCut(int fd, Lsn seg_start, Lsn cut_at, Lsn file_end);
  std::string PathOf(Lsn start) const;
  void FlusherLoop();
  Status WriteGroup(const Group& g);
  Status WriteBytes(const char* data, size_t n);
  Status SyncActive();
  Status StartSegment(Lsn start);
  SegmentView ViewSegment(Lsn start) const;
  /// Start of the segment that follows the one starting at `start` (which may be empty).
  std::optional<Lsn> SegmentAfter(Lsn start) const;
  bool IsQuarantined(LsnRange r) const;

  const WalOptions options_;
  RecoveryReport recovery_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   ///< wakes the flusher
  std::condition_variable space_cv_;  ///< wakes appenders blocked by max_pending_bytes
  Group pending_;
  uint64_t pending_bytes_ = 0;
  Lsn next_lsn_ = 0;          ///< LSN the next Append gets
  Lsn append_seg_start_ = 0;  ///< segment the next Append goes into
  Lsn durable_end_ = 0;
  std::vector<Segment> segments_;        ///< files on disk, oldest first; the last is written to
  std::map<Lsn, uint64_t> quarantined_;  ///< quarantine files: start LSN -> bytes (fixed after Open)
  std::optional<Error> failed_;
  bool closing_ = false;
  bool flusher_idle_ = false;
  int space_waiters_ = 0;
  WalStats stats_;

  // Owned by the flusher thread (and by Open/Close before and after it runs).
  Group inflight_;
  int active_fd_ = -1;
  Lsn active_start_ = 0;
  Lsn active_end_ = 0;  ///< bytes written to the active segment end here
  uint64_t written_total_ = 0;
  bool unsynced_ = false;
  std::chrono::steady_clock::time_point last_sync_{};

  std::mutex close_mu_;
  bool closed_ = false;
  std::thread flusher_;
};

}  // namespace weir::state
