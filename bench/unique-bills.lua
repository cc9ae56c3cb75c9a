-- wrk script: Papaya endpoint 1 with the seed's bill under a new orderId each request
-- (to fill the evaluation log with distinct orders for bench/replay.sh).
local f = assert(io.open("examples/data/bills/papaya-discount-request.json", "r"))
local template = f:read("*a")
f:close()
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("thread_id", thread_id)
end

function request()
  counter = counter + 1
  local body = template:gsub('"orderId": "[^"]*"', '"orderId": "bench-' .. thread_id .. '-' .. counter .. '"')
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer demo-pos-token",
    ["Content-Type"] = "application/json",
  }, body)
end
