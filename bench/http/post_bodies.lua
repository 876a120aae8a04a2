-- wrk script: POSTs request bodies read from files, each request the next body in turn.
--
--   wrk -t1 -c8 -d10s -s bench/http/post_bodies.lua http://127.0.0.1:18080/api/v1/events \
--       -- BODY_LIST [CONTENT_TYPE]
--
-- BODY_LIST is a file naming one body file per line (paths relative to the list's directory);
-- CONTENT_TYPE defaults to application/x-ndjson. Requests are formatted once, in init, so the
-- script costs wrk one table lookup per request. done() prints one machine-readable line,
-- "WRK_RESULT key=value ...", that scripts/bench-ingest parses (wrk's own text goes first).

local requests = {}
local index = 1

function init(args)
  local list = args[1]
  local content_type = args[2] or "application/x-ndjson"
  local dir = list:match("^(.*)/[^/]*$") or "."
  local headers = { ["Content-Type"] = content_type }
  for name in io.lines(list) do
    if name ~= "" then
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      local body = f:read("*a")
      f:close()
      requests[#requests + 1] = wrk.format("POST", nil, headers, body)
    end
  end
  assert(#requests > 0, "no bodies listed in " .. list)
  -- Threads start at different bodies so that they do not send the same one at once.
  index = (math.random(#requests) - 1) % #requests + 1
end

function request()
  local r = requests[index]
  index = index % #requests + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d bytes=%d connect_errors=%d read_errors=%d write_errors=%d " ..
    "non2xx=%d timeouts=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
