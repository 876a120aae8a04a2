// weir_floor_q3: the floor for Q3 (bench/queries/q3_unique_users_per_hour.yaml), unique users per
// hour over every event, exact and approximate (HyperLogLog).
//
// Usage: weir_floor_q3 EVENTS.ndjson > rows.ndjson
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
  UniqueUsers q3;
  bool ok = ForEachEvent(file, stats, [&](ondemand::object& e) {
    std::string_view ts, user;
    int64_t ms;
    if (e["timestamp"].get_string().get(ts) || !time.Parse(ts, ms)) return false;
    if (e["user_id"].get_string().get(user)) return false;
    q3.Add(ms, user);
    return true;
  });
  if (!ok) return 1;
  Out out;
  q3.Emit(out, "");
  out.Flush();
  stats.Report("weir_floor_q3");
  return 0;
}
