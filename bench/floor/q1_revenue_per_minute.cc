// weir_floor_q1: the floor for Q1 (bench/queries/q1_revenue_per_minute.yaml), revenue per minute
// by currency over purchase_completed events: count, sum(amount), avg(amount), tumbling 1m.
//
// Usage: weir_floor_q1 EVENTS.ndjson > rows.ndjson
#include "revenue_per_minute.h"

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
  bool ok = ForEachEvent(file, stats, [&](ondemand::object& e) {
    std::string_view type, ts, currency;
    int64_t ms;
    double amount;
    ondemand::object props;
    if (e["event_type"].get_string().get(type)) return false;
    if (type != "purchase_completed") return true;
    if (e["timestamp"].get_string().get(ts) || !time.Parse(ts, ms)) return false;
    if (e["properties"].get_object().get(props)) return false;
    if (props["amount"].get_double().get(amount) || props["currency"].get_string().get(currency)) return false;
    q1.Add(ms, currency, amount);
    return true;
  });
  if (!ok) return 1;
  Out out;
  q1.Emit(out, "");
  out.Flush();
  stats.Report("weir_floor_q1");
  return 0;
}
