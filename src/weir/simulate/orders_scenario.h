// The `orders` scenario: Debezium change events (CDC) of a shop database's `orders` and
// `order_items` tables, in the shape of seed 002 (an analytics service consuming those topics).
// Orders are inserted with their items, move pending -> paid -> shipped -> delivered (or get
// cancelled), and some cancelled orders are deleted with their items, so group keys such as
// the status move and rows disappear.
//
//   auto s = OrdersScenario::Make(options);   // or MakeScenario("orders", options)
//   std::string line;
//   (*s)->Next(line);
//   // {"payload":{"before":null,"after":{"order_id":1001,"customer_id":17,"status":"pending",
//   //  "total_amount":59.98,"created_at":"2026-02-16T10:30:00.000Z"},"source":{…,"table":"orders"},
//   //  "op":"c","ts_ms":1771237800000}}
//
// Fields and distributions are documented in src/weir/simulate/README.md.
#pragma once

#include <array>
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

/// Generates Debezium change events of `orders` and `order_items` (seed 002); see the README.
class OrdersScenario final : public ClockedScenario {
 public:
  static constexpr std::string_view kName = "orders";
  static const ParamInfo kParams[3];

  static Result<std::unique_ptr<Scenario>> Make(const Options& options);

  std::string_view name() const override { return kName; }
  void Next(std::string& out) override;

  /// Upper bound on one event's size (both images of an update with the longest values).
  static constexpr size_t kMaxEventBytes = 1024;
  static constexpr int kMaxItems = 5;

 private:
  enum OrderStatus : uint8_t { kPending, kPaid, kShipped, kDelivered, kCancelled };

  struct Item {
    uint64_t id;
    uint32_t product;
    uint32_t quantity;
    uint64_t unit_cents;
  };
  /// An order still changing. `slot_` orders are advanced at random, so their changes interleave.
  struct Order {
    bool live = false;
    uint64_t id = 0;
    uint32_t customer = 0;
    OrderStatus status = kPending;
    uint64_t total_cents = 0;
    Timestamp created_at = 0;
    uint8_t items = 0;
    std::array<Item, kMaxItems> item{};
  };
  /// What the order at `order` still has to emit in one transaction: its items' inserts after
  /// the order's (phase kInsertItems), or its items' deletes then the order's (kDeleteItems).
  enum Phase : uint8_t { kIdle, kInsertItems, kDeleteItems };

  OrdersScenario(const Options& options, uint64_t customers, uint64_t products, double cancel_rate);

  char* Write(char* p);
  void NewOrder(Order& o, Timestamp ts);
  char* Source(JsonWriter& w, bool orders, Timestamp ts);
  static void OrderRow(JsonWriter& w, const Order& o, OrderStatus status);
  static void ItemRow(JsonWriter& w, const Order& o, const Item& item);

  Rng rng_;
  IsoTimeFormatter iso_;
  double cancel_rate_;
  uint64_t next_order_id_ = 1001;
  uint64_t next_item_id_ = 1;
  uint64_t lsn_;

  AliasTable customer_pick_;
  AliasTable product_pick_;
  AliasTable item_count_;
  AliasTable quantity_;
  std::vector<uint64_t> price_cents_;  // per product
  std::vector<Order> orders_;          // concurrently changing orders
  Phase phase_ = kIdle;
  uint32_t phase_order_ = 0;  // index into orders_
  uint8_t phase_next_ = 0;    // next item of phase_order_
};

}  // namespace weir::simulate
