// The `ecommerce` scenario: shop activity in the event schema of seed 004 (page views, product
// views, carts, purchases, refunds), with skewed users and products and sticky sessions.
//
//   auto s = EcommerceScenario::Make(options);   // or MakeScenario("ecommerce", options)
//   std::string line;
//   (*s)->Next(line);
//   // {"event_id":"evt_…","event_type":"page_view","timestamp":"2026-02-16T10:30:00.000Z",
//   //  "user_id":"user_4711","session_id":"sess_…","properties":{…},"metadata":{…}}
//
// Fields and distributions are documented in src/weir/simulate/README.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/base/result.h"
#include "weir/simulate/event_clock.h"
#include "weir/simulate/json_writer.h"
#include "weir/simulate/random.h"
#include "weir/simulate/simulator.h"

namespace weir::simulate {

/// Generates e-commerce events (seed 004 schema); see the README for the distributions.
class EcommerceScenario final : public ClockedScenario {
 public:
  static constexpr std::string_view kName = "ecommerce";
  static const ParamInfo kParams[5];

  static Result<std::unique_ptr<Scenario>> Make(const Options& options);

  std::string_view name() const override { return kName; }
  void Next(std::string& out) override;

  /// Upper bound on one event's size, guaranteed by the fixed string tables.
  static constexpr size_t kMaxEventBytes = 1024;

 private:
  EcommerceScenario(const Options& options, uint64_t users, uint64_t products, double user_skew, double product_skew,
                    bool short_agents);

  char* Write(char* p);

  struct UserState {
    Timestamp last_seen = 0;  // event time of the user's last event
    uint64_t session = 0;     // the user's current session number; 0 before the first
  };

  Rng rng_;
  IsoTimeFormatter iso_;
  uint64_t event_key_;    // offsets event ids so different seeds give different ids
  uint64_t session_key_;  // offsets session ids
  uint64_t session_counter_ = 0;
  uint64_t user_key_;  // seeds per-user attributes (country)

  uint64_t users_;
  uint64_t products_;
  // Popularity rank -> id: a fixed permutation so the most active users and best-selling
  // products are not simply user_1 and prod_1.
  uint64_t user_mul_, user_add_;
  uint64_t product_mul_, product_add_;

  AliasTable event_type_;
  AliasTable user_rank_;
  AliasTable product_rank_;
  AliasTable currency_;
  AliasTable payment_;
  AliasTable country_;
  AliasTable platform_;
  AliasTable quantity_;
  AliasTable page_;
  AliasTable category_;
  AliasTable search_;

  bool short_agents_;
  std::vector<uint32_t> price_cents_;  // list price in USD cents, by product id - 1
  std::vector<UserState> user_state_;  // by user rank

  // The user of each event is drawn two events ahead so the memory it needs (alias slot,
  // then user state; ~2.5 MB for 100k users, beyond L2) is prefetched while other events are
  // written. This roughly doubles throughput with many users.
  uint64_t next_user_bits_ = 0;  // draw for the event after next; its slot is being prefetched
  uint64_t next_rank_ = 0;       // rank for the next event; its state is being prefetched
};

}  // namespace weir::simulate
