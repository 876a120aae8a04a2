# 24 hours of sensor-like readings for the serving benchmark (scripts/bench-serving), in time
# order: every minute of 2026-02-16 (UTC), PER_MINUTE events for each of DEVICES devices, each
# with a value and a user id (for approx_distinct). Needs gawk (strftime).
#
#   gawk -v DEVICES=100 -v PER_MINUTE=4 -v HOURS=24 -f bench/serving/readings.awk > readings.ndjson
BEGIN {
  if (!DEVICES) DEVICES = 100
  if (!PER_MINUTE) PER_MINUTE = 4
  if (!HOURS) HOURS = 24
  start = 1771200000  # 2026-02-16T00:00:00Z
  srand(7)
  step_ms = int(60000 / PER_MINUTE)
  for (m = 0; m < HOURS * 60; ++m) {
    for (j = 0; j < PER_MINUTE; ++j) {
      for (d = 0; d < DEVICES; ++d) {
        ms = j * step_ms + int(d * step_ms / DEVICES)  # spread over the minute, in order
        t = start + m * 60 + int(ms / 1000)
        printf "{\"timestamp\":\"%s.%03dZ\",\"device\":\"dev-%03d\",\"value\":%.2f,\"user\":\"u%d\",\"firmware\":\"1.4.%d\"}\n",
               strftime("%Y-%m-%dT%H:%M:%S", t, 1), ms % 1000, d, 20 + 10 * sin(m / 90 + d) + 5 * rand(), int(rand() * 500), d % 3
      }
    }
  }
}
