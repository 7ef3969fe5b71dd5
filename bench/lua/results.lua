-- wrk script: simulated agents POST /api/v1/results, each request a new batch_id.
-- usage: wrk ... -s results.lua URL -- AGENTS_FILE BATCH_SIZE
-- AGENTS_FILE holds "host token" lines; requests cycle through them, so no two
-- connections post for one host at once unless there are fewer hosts than connections.
local agents = {}
local batch_size = 10
local counter = 0
local tag = ""
local cached_second = -1
local cached_results = ""
local threads = {}
local CHECKS = 10

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local host, token = line:match("^(%S+)%s+(%S+)$")
    if host then
      table.insert(agents, {host = host, auth = "Bearer " .. token})
    end
  end
  batch_size = tonumber(args[2])
  math.randomseed(os.time() * 1000 + (thread_no or 0))
  tag = string.format("%d-%d-%08x", os.time(), thread_no or 0, math.random(0, 0x7fffffff))
  counter = (thread_no or 0) * 7919  -- threads start on different hosts
end

local function results_for(second)
  -- batch of N: checks c00..c09 observed over the last N/10 rounds, oldest first
  local parts = {}
  local rounds = math.max(1, math.floor(batch_size / CHECKS))
  for i = 0, batch_size - 1 do
    local round = math.floor(i / CHECKS)
    local at = os.date("!%Y-%m-%dT%H:%M:%SZ", second - (rounds - 1 - round) * 60)
    parts[#parts + 1] = string.format(
      '{"check":"c%02d","status":"OK","summary":"bench check %d fine","observed_at":"%s",' ..
      '"duration_ms":3,"metrics":{"value":%d.5},"details":{}}',
      i % CHECKS, i % CHECKS, at, i)
  end
  return table.concat(parts, ",")
end

function request()
  counter = counter + 1
  local agent = agents[(counter % #agents) + 1]
  local now = os.time()
  if now ~= cached_second then
    cached_second = now
    cached_results = results_for(now)
  end
  local body = string.format(
    '{"host":"%s","batch_id":"%s-%d","agent":{"version":"bench","interval_s":60},"results":[%s]}',
    agent.host, tag, counter, cached_results)
  return wrk.format("POST", "/api/v1/results",
    {["Content-Type"] = "application/json", ["Authorization"] = agent.auth}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
