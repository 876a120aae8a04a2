// weir_floor_q2: the floor for Q2 (bench/queries/q2_top_products.yaml), the 10 most viewed
// products (product_view events) per 5-minute window sliding every minute.
//
// Usage: weir_floor_q2 EVENTS.ndjson > rows.ndjson
#include "top_products.h"

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
  TopProducts q2;
  bool ok = ForEachEvent(file, stats, [&](ondemand::object& e) {
    std::string_view type, ts, product;
    int64_t ms;
    ondemand::object props;
    if (e["event_type"].get_string().get(type)) return false;
    if (type != "product_view") return true;
    if (e["timestamp"].get_string().get(ts) || !time.Parse(ts, ms)) return false;
    if (e["properties"].get_object().get(props) || props["product_id"].get_string().get(product)) return false;
    q2.Add(ms, product);
    return true;
  });
  if (!ok) return 1;
  Out out;
  q2.Emit(out, "");
  out.Flush();
  stats.Report("weir_floor_q2");
  return 0;
}
