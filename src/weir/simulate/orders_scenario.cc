// The `orders` scenario; see orders_scenario.h and README.md.
#include "weir/simulate/orders_scenario.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>

#include "weir/simulate/params.h"

namespace weir::simulate {
namespace {

using namespace std::string_view_literals;

constexpr std::array kStatusNames = {"pending"sv, "paid"sv, "shipped"sv, "delivered"sv, "cancelled"sv};

// Items per order 1..5, and units per item 1..4: most baskets are small.
constexpr std::array kItemWeights = {45.0, 25.0, 15.0, 10.0, 5.0};
constexpr std::array kQuantityWeights = {70.0, 20.0, 7.0, 3.0};
constexpr double kDeleteCancelled = 0.4;  // cancelled orders purged (with their items)
constexpr size_t kOpenOrders = 1024;      // orders whose changes interleave

template <size_t N>
AliasTable Table(const std::array<double, N>& w) {
  return AliasTable(std::span<const double>(w.data(), N));
}

}  // namespace

const ParamInfo OrdersScenario::kParams[3] = {
    {"customers", "2000", "number of customers (1..10000000), Zipf(0.9) activity"},
    {"products", "500", "number of products (1..1000000), Zipf(1.0) popularity"},
    {"cancel_rate", "0.08", "share of pending orders cancelled (half that of paid ones) (0..1)"},
};

Result<std::unique_ptr<Scenario>> OrdersScenario::Make(const Options& options) {
  WEIR_RETURN_IF_ERROR(ValidateCommonOptions(options));
  ParamReader r(kName, options.params, kParams);
  WEIR_RETURN_IF_ERROR(r.CheckAllKnown());
  WEIR_ASSIGN_OR_RETURN(uint64_t customers, r.Count("customers", 2000, 1, 10'000'000));
  WEIR_ASSIGN_OR_RETURN(uint64_t products, r.Count("products", 500, 1, 1'000'000));
  WEIR_ASSIGN_OR_RETURN(double cancel_rate, r.Number("cancel_rate", 0.08, 0, 1));
  return std::unique_ptr<Scenario>(new OrdersScenario(options, customers, products, cancel_rate));
}

OrdersScenario::OrdersScenario(const Options& o, uint64_t customers, uint64_t products, double cancel_rate)
    : ClockedScenario(o),
      rng_(o.seed),
      cancel_rate_(cancel_rate),
      customer_pick_(ZipfWeights(customers, 0.9)),
      product_pick_(ZipfWeights(products, 1.0)),
      item_count_(Table(kItemWeights)),
      quantity_(Table(kQuantityWeights)),
      orders_(kOpenOrders) {
  uint64_t sm = o.seed ^ 0x6f72646572732121ULL;  // "orders!!"
  lsn_ = 20'000'000 + (SplitMix64(sm) & 0xffffff);
  Rng setup(SplitMix64(sm));
  // List prices log-uniform over $3..$500, ending in .99.
  price_cents_.resize(products);
  const double lo = std::log(3.0), hi = std::log(500.0);
  for (uint64_t& c : price_cents_)
    c = static_cast<uint64_t>(std::llround(std::exp(lo + setup.Uniform() * (hi - lo)))) * 100 - 1;
}

void OrdersScenario::NewOrder(Order& o, Timestamp ts) {
  o.live = true;
  o.id = next_order_id_++;
  o.customer = static_cast<uint32_t>(customer_pick_.Sample(rng_));
  o.status = kPending;
  o.created_at = ts;
  o.items = static_cast<uint8_t>(1 + item_count_.Sample(rng_));
  o.total_cents = 0;
  for (uint8_t i = 0; i < o.items; ++i) {
    Item& it = o.item[i];
    it.id = next_item_id_++;
    it.product = static_cast<uint32_t>(product_pick_.Sample(rng_));
    it.quantity = static_cast<uint32_t>(1 + quantity_.Sample(rng_));
    it.unit_cents = price_cents_[it.product];
    o.total_cents += it.quantity * it.unit_cents;
  }
}

void OrdersScenario::Next(std::string& out) {
  AppendBounded(out, kMaxEventBytes, [this](char* p) { return Write(p); });
}

void OrdersScenario::OrderRow(JsonWriter& w, const Order& o, OrderStatus status) {
  w.Raw("{\"order_id\":");
  w.Uint(o.id);
  w.Raw(",\"customer_id\":");
  w.Uint(o.customer + 1);
  w.Raw(",\"status\":");
  w.Str(kStatusNames[status]);
  w.Raw(",\"total_amount\":");
  w.Fixed(o.total_cents, 2);
  w.Raw(",\"created_at\":\"");
}

void OrdersScenario::ItemRow(JsonWriter& w, const Order& o, const Item& it) {
  w.Raw("{\"id\":");
  w.Uint(it.id);
  w.Raw(",\"order_id\":");
  w.Uint(o.id);
  w.Raw(",\"product_id\":");
  w.Uint(it.product + 1);
  w.Raw(",\"quantity\":");
  w.Uint(it.quantity);
  w.Raw(",\"unit_price\":");
  w.Fixed(it.unit_cents, 2);
  w.Raw("}");
}

char* OrdersScenario::Source(JsonWriter& w, bool orders, Timestamp ts) {
  w.Raw(",\"source\":{\"version\":\"2.5.0.Final\",\"connector\":\"postgresql\",\"name\":\"dbserver1\",\"ts_ms\":");
  w.Uint(static_cast<uint64_t>(ts));
  w.Raw(",\"db\":\"shop\",\"schema\":\"public\",\"table\":");
  w.Str(orders ? "orders"sv : "order_items"sv);
  w.Raw(",\"lsn\":");
  w.Uint(lsn_ += 64 + rng_.Below(256));
  w.Raw("},\"op\":");
  return w.pos();
}

char* OrdersScenario::Write(char* p) {
  const Timestamp ts = clock_.Next(rng_);
  // A change to an existing order is never stamped before the order was created (the jitter
  // could put it there).
  Timestamp when = ts;
  JsonWriter w(p);
  auto order_image = [&](const Order& o, OrderStatus status) {
    OrderRow(w, o, status);
    w.MoveTo(iso_.Write(o.created_at, w.pos()));
    w.Raw("\"}");
  };
  auto finish = [&](char op) {
    w.Char('"');
    w.Char(op);
    w.Raw("\",\"ts_ms\":");
    w.Uint(static_cast<uint64_t>(when));
    w.Raw("}}");
  };
  w.Raw("{\"payload\":{\"before\":");

  if (phase_ != kIdle) {
    Order& o = orders_[phase_order_];
    when = std::max(ts, o.created_at);
    if (phase_ == kInsertItems) {  // the rest of the order's insert transaction
      w.Raw("null,\"after\":");
      ItemRow(w, o, o.item[phase_next_]);
      Source(w, false, when);
      finish('c');
      if (++phase_next_ == o.items) phase_ = kIdle;
    } else if (phase_next_ < o.items) {  // purging a cancelled order: items first
      ItemRow(w, o, o.item[phase_next_++]);
      w.Raw(",\"after\":null");
      Source(w, false, when);
      finish('d');
    } else {
      order_image(o, o.status);
      w.Raw(",\"after\":null");
      Source(w, true, when);
      finish('d');
      o.live = false;
      phase_ = kIdle;
    }
    return w.pos();
  }

  const uint32_t idx = static_cast<uint32_t>(rng_.Below(orders_.size()));
  Order& o = orders_[idx];
  OrderStatus next = kPending;
  bool recycle = !o.live;
  if (o.live) {
    when = std::max(ts, o.created_at);
    switch (o.status) {
      case kPending:
        next = rng_.Chance(cancel_rate_) ? kCancelled : kPaid;
        break;
      case kPaid:
        next = rng_.Chance(cancel_rate_ / 2) ? kCancelled : kShipped;
        break;
      case kShipped:
        next = kDelivered;
        break;
      case kDelivered:
        recycle = true;
        break;  // stays delivered; its slot takes a new order
      case kCancelled:
        if (rng_.Chance(kDeleteCancelled)) {
          phase_ = kDeleteItems;
          phase_order_ = idx;
          phase_next_ = 1;
          ItemRow(w, o, o.item[0]);
          w.Raw(",\"after\":null");
          Source(w, false, when);
          finish('d');
          return w.pos();
        }
        recycle = true;
        break;
    }
  }
  if (recycle) {  // a new order, its items follow
    when = ts;
    NewOrder(o, ts);
    w.Raw("null,\"after\":");
    order_image(o, kPending);
    Source(w, true, when);
    finish('c');
    phase_ = kInsertItems;
    phase_order_ = idx;
    phase_next_ = 0;
    return w.pos();
  }
  order_image(o, o.status);
  w.Raw(",\"after\":");
  order_image(o, next);
  Source(w, true, when);
  finish('u');
  o.status = next;
  return w.pos();
}

}  // namespace weir::simulate
