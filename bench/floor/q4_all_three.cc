// weir_floor_q4: the floor for Q4 (bench/queries/q4_all_three.yaml), Q1, Q2 and Q3 in one pass
// over the events. Rows carry a "metric" field (revenue_per_minute, top_products,
// unique_users_per_hour), as `weir query` prints them.
//
// Usage: weir_floor_q4 EVENTS.ndjson > rows.ndjson
#include "revenue_per_minute.h"
#include "top_products.h"
#include "unique_users.h"

namespace ondemand = simdjson::ondemand;
using namespace weir::bench_floor;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s EVENTS.ndjson\n", argv[0]);
    return 2;
  }
  MappedFile file;
  if (!file.Open(argv[1])) return 1;
  Stats stats;
  TimestampParser time;
  RevenuePerMinute q1;
  TopProducts q2;
  UniqueUsers q3;
  bool ok = ForEachEvent(file, stats, [&](ondemand::object& e) {
    std::string_view type, ts, user;
    int64_t ms;
    if (e["event_type"].get_string().get(type)) return false;
    if (e["timestamp"].get_string().get(ts) || !time.Parse(ts, ms)) return false;
    if (e["user_id"].get_string().get(user)) return false;
    q3.Add(ms, user);
    const bool purchase = type == "purchase_completed", view = type == "product_view";
    if (!purchase && !view) return true;
    ondemand::object props;
    if (e["properties"].get_object().get(props)) return false;
    if (view) {
      std::string_view product;
      if (props["product_id"].get_string().get(product)) return false;
      q2.Add(ms, product);
    } else {
      std::string_view currency;
      double amount;
      if (props["amount"].get_double().get(amount) || props["currency"].get_string().get(currency)) return false;
      q1.Add(ms, currency, amount);
    }
    return true;
  });
  if (!ok) return 1;
  Out out;
  q1.Emit(out, "revenue_per_minute");
  q2.Emit(out, "top_products");
  q3.Emit(out, "unique_users_per_hour");
  out.Flush();
  stats.Report("weir_floor_q4");
  return 0;
}
