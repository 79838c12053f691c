-- wrk script: every request carries the next of N distinct valid tokens (defeats verified-token caches).
-- Usage: wrk -t1 -c64 -d10s -s bench/rotating.lua URL -- TOKENS_FILE
local tokens, i = {}, 0
init = function(args)
  for line in io.lines(args[1]) do if #line > 0 then tokens[#tokens + 1] = line end end
end
request = function()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT\t%d\t%d\t%d\t%d\t%d\t%d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
