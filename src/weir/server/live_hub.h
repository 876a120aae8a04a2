// The live hub: the recent result rows of every metric, kept for clients that follow them live
// (Server-Sent Events and WebSocket, see live_routes.h) and that resume after a disconnect.
//
//   LiveHub hub(pipeline->metric_schemas(), {.ring_rows = 10000});
//   pipeline->AddResultListener(&hub);                          // before pipeline->Start()
//   auto sub = hub.Subscribe([&] { io_thread.post(pump); });   // one per client connection
//   sub->Subscribe("revenue", {{"currency", "USD"}}, /*after_seq=*/120);
//   std::vector<LiveEvent> events;
//   sub->Poll(events);   // on the client's thread: the rows after seq 120, or a snapshot
//
// Rows: OnResults formats each row once, on the pipeline thread, as the update message every
// transport sends ({"type":"update","metric":…,"seq":…,"row":{…}}), and appends it to its
// metric's ring (the last `ring_rows` rows or `ring_bytes` bytes). Nothing per client happens
// there: each subscription is only woken (at most one wake pending at a time), and the client's
// transport pulls rows from the rings on its own thread, as fast as its client takes them.
//
// Positions: a row's `seq` numbers the metric's emitted rows, one after another, and survives
// restarts (it is checkpointed). A subscription resumed "after seq N" gets exactly the rows
// with a higher seq, in order, if the ring still holds the row right after N. If it does not,
// because the client was away too long or read too slowly, or because rows were emitted while
// this process did not run, the subscription gets a snapshot instead ("reset": true) and goes
// on from there. A subscription without a position starts with a snapshot as well.
//
// Snapshots: the metric's latest window (all groups for `window: none`), as the snapshot source
// (the result store, in `weir run`) has it, filtered like the subscription. The snapshot's seq
// is the metric's newest row when it was taken; rows after it follow as updates. Because the
// store is read after that position is taken, the first updates may repeat rows the snapshot
// already shows; rows are upserts by (window, group), so applying them again changes nothing.
// Without a snapshot source the snapshot is built from the ring alone.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/base/result.h"
#include "weir/model/results.h"
#include "weir/runtime/pipeline.h"

namespace weir::server {

/// Limits and timings of the live hub and its transports.
struct LiveOptions {
  size_t ring_rows = 10000;        ///< rows kept per metric for resuming clients
  size_t ring_bytes = 16 << 20;    ///< bytes of formatted rows kept per metric
  size_t snapshot_rows = 10000;    ///< at most this many rows per metric in one snapshot
  size_t batch_rows = 512;         ///< rows a transport takes per poll (fairness between clients)
  size_t low_water_bytes = 256 << 10;  ///< a transport takes more rows only below this backlog
  std::chrono::milliseconds heartbeat{15000};  ///< SSE comment / WebSocket heartbeat interval
  std::chrono::milliseconds retry{2000};       ///< reconnection delay SSE clients are told
};

/// One result row as the hub keeps it: formatted once, shared read-only by every client.
struct LiveRow {
  uint64_t seq = 0;
  uint64_t order = 0;  ///< hub-wide arrival number: merges metrics in emission order
  Timestamp window_start = 0;
  bool deleted = false;
  bool replace = false;  ///< top-N: the first row of its window's new version (drop the old rows)
  std::string message;  ///< {"type":"update","metric":…,"seq":…,["replace":true,]"row":{…}}
  uint32_t row_offset = 0, row_size = 0;  ///< where the row object sits in `message`
  std::string keys;  ///< the group-key tuple, key_codec-encoded (filters, snapshots)

  std::string_view row() const { return std::string_view(message).substr(row_offset, row_size); }
};

/// Something a transport sends to its client, in order.
struct LiveEvent {
  enum class Kind : uint8_t { kUpdate, kSnapshot };
  Kind kind = Kind::kUpdate;
  std::shared_ptr<const LiveRow> row;  ///< kUpdate
  /// kSnapshot: {"type":"snapshot","metric":…,"seq":N|null,"reset":…,"rows":[…]}
  std::string snapshot;
  /// The subscription's position after this event, "revenue=121;views=88" (only for
  /// subscriptions made with positions; metrics without a position yet are left out).
  std::string position;

  const std::string& text() const { return kind == Kind::kUpdate ? row->message : snapshot; }
};

/// Group-key filters: name -> value as text; numbers compare by value ("5" matches 5.0).
using LiveFilters = std::vector<std::pair<std::string, std::string>>;

/// Reads a snapshot: the rows (JSON objects) of `metric`'s latest window that pass `filters`,
/// at most `limit`. Called on transport threads; may read the store.
using SnapshotSource =
    std::function<Result<std::vector<std::string>>(const MetricSchema& metric, const LiveFilters& filters, size_t limit)>;

class LiveSubscription;

/// Keeps each metric's recent rows and wakes subscriptions; see the file comment.
///
/// Threads: OnResults runs on the pipeline thread and never blocks on a client (it takes each
/// metric's lock briefly, with the clients' threads reading the same ring). Subscribe, stats
/// and the snapshot source are safe from any thread. The hub may be destroyed while
/// subscriptions are still referenced (they share its state), but not while OnResults runs.
class LiveHub final : public runtime::ResultListener {
 public:
  /// The metrics clients may follow (copied); rows of other metrics are ignored.
  explicit LiveHub(const std::vector<const MetricSchema*>& metrics, LiveOptions options = {});
  ~LiveHub() override;
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  /// Where snapshots come from; set before clients subscribe. Without one, the ring is used.
  void SetSnapshotSource(SnapshotSource source);

  void OnResults(const ResultBatch& batch) override;

  /// A new subscription (to nothing yet). `wake` is called, from any thread and possibly under
  /// a hub lock, when the subscription has something to poll; it must only schedule the poll
  /// (e.g. post it to the client's IO thread), never call back into the hub. It is called
  /// again only after the next Poll has started.
  std::shared_ptr<LiveSubscription> Subscribe(std::function<void()> wake, bool with_positions = true);

  const LiveOptions& options() const;
  /// The metric called `id`, or nullptr.
  const MetricSchema* FindMetric(std::string_view id) const;
  /// Every metric, in pipeline order.
  std::vector<const MetricSchema*> metrics() const;
  /// "a, b, c" (for error messages).
  std::string MetricList() const;

  /// Open subscriptions.
  uint64_t subscribers() const;
  struct RingStats {
    std::string metric;
    size_t rows = 0;        ///< rows in the ring
    size_t bytes = 0;       ///< their formatted size
    uint64_t first_seq = 0; ///< oldest row kept (0 if none)
    uint64_t last_seq = 0;  ///< newest row seen (0 if none)
    uint64_t rows_total = 0;  ///< rows received since start
    size_t subscribers = 0;
  };
  std::vector<RingStats> ring_stats() const;
  /// {"subscribers":N,"snapshots":N,"resets":N,"updates_sent":N,"metrics":{"id":{…RingStats…}}}
  std::string StatsJson() const;

  struct Core;  // shared with subscriptions

 private:
  std::shared_ptr<Core> core_;
  // Pipeline thread only: rows being formatted for one batch.
  std::vector<std::shared_ptr<const LiveRow>> scratch_;
};

/// One client's view of the hub: which metrics it follows, through which filters, and how far
/// it has got in each. Everything but the wake callback runs on one thread at a time (the
/// client's transport); see LiveHub::Subscribe.
class LiveSubscription {
 public:
  ~LiveSubscription();
  LiveSubscription(const LiveSubscription&) = delete;
  LiveSubscription& operator=(const LiveSubscription&) = delete;

  /// Follows `metric` through `filters` (each must name a group key of the metric). With
  /// `after_seq`, resumes after that row (see the file comment); without, starts with a
  /// snapshot. Following a metric again replaces its filters and position.
  Status Subscribe(std::string_view metric, const LiveFilters& filters, std::optional<uint64_t> after_seq);
  /// Stops following `metric`; false if it was not followed.
  bool Unsubscribe(std::string_view metric);
  /// Appends what is due to `events`: a snapshot (at most one per call) or up to batch_rows
  /// updates. Returns true if more is due right away (call again). Consecutive polls deliver
  /// each metric's rows in seq order without gaps or repeats; different metrics interleave in
  /// emission order.
  bool Poll(std::vector<LiveEvent>& events);
  /// The current position, "revenue=121;views=88".
  std::string Position() const;
  /// The metrics followed, in subscription order.
  std::vector<std::string> metrics() const;
  /// Leaves the hub: after it returns, wake is not called again. Idempotent.
  void Cancel();

 private:
  friend class LiveHub;
  struct Entry;
  LiveSubscription(std::shared_ptr<LiveHub::Core> core, std::function<void()> wake, bool with_positions);
  void Notify();
  void MakeSnapshot(Entry& entry, std::vector<LiveEvent>& events);
  void AppendPosition(std::string& out) const;

  std::shared_ptr<LiveHub::Core> core_;
  std::function<void()> wake_;
  const bool with_positions_;
  std::atomic<bool> wake_pending_{false};
  bool canceled_ = false;
  std::vector<std::unique_ptr<Entry>> entries_;
  // Poll's working set, kept to avoid allocating per call.
  struct Pending {
    uint64_t order;
    size_t entry;
    std::shared_ptr<const LiveRow> row;
  };
  std::vector<Pending> pending_;
};

/// Parses a position as LiveEvent::position writes it ("revenue=121;views=88"), or a bare
/// number (the position of the only metric, returned under the name ""). Errors name the part
/// that is wrong.
Result<std::vector<std::pair<std::string, uint64_t>>> ParseLivePosition(std::string_view text);

}  // namespace weir::server
