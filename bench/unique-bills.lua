-- wrk script: Papaya endpoint 1 with the seed's bill under a new orderId each request
-- (to fill the evaluation log with distinct orders for bench/replay.sh). Each thread
-- tags its ids with a random number of its own, so threads and runs never repeat ids.
local f = assert(io.open("examples/data/bills/papaya-discount-request.json", "r"))
local template = f:read("*a")
f:close()
local counter = 0
local tag = "x"

function init(args)
  -- A table's address differs per thread (each has its own Lua state).
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
  tag = tostring(math.random(1, 2000000000))
end

function request()
  counter = counter + 1
  local body = template:gsub('"orderId": "[^"]*"', '"orderId": "bench-' .. tag .. '-' .. counter .. '"')
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer demo-pos-token",
    ["Content-Type"] = "application/json",
  }, body)
end
