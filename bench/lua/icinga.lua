-- wrk script: Icinga 2's passive check results, one result per request (Icinga has no batch).
-- usage: wrk ... -s icinga.lua URL -- HOSTS SERVICES USER PASSWORD
local hosts, services = 100, 10
local counter = 0
local auth = ""
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

local function b64(data)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#data % 3 + 1])
end

function init(args)
  hosts = tonumber(args[1])
  services = tonumber(args[2])
  auth = "Basic " .. b64(args[3] .. ":" .. args[4])
  counter = (thread_no or 0) * 7919
end

function request()
  counter = counter + 1
  local n = counter % (hosts * services)
  local body = string.format(
    '{"type":"Service","service":"h%d!s%d","exit_status":0,' ..
    '"plugin_output":"bench check %d fine","performance_data":["value=%d.5"]}',
    math.floor(n / services), n % services, n % services, counter % 1000)
  return wrk.format("POST", "/v1/actions/process-check-result",
    {["Content-Type"] = "application/json", ["Accept"] = "application/json",
     ["Authorization"] = auth}, body)
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
