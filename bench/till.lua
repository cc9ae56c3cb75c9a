-- wrk script: a till's whole bill, as two requests on one connection: endpoint 1 for a new
-- order (the discount, which reserves a limited campaign's budget), then endpoint 2
-- completing it (which uses the reservation exactly once). Each wrk thread numbers its own
-- orders; the bills go to cards card-0 … card-(CARDS-1).
--   CARDS=N   cards to spread over (default 1000)
--   PREFIX=x  order ids start with load-x- (two wrk processes at once need two prefixes)
--   TOKEN=t   the POS token (default the demo's)
-- At the end it prints `acknowledged: N`, the completed bills answered 200.
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

local cards = tonumber(os.getenv("CARDS") or "1000")
local prefix = os.getenv("PREFIX") or "t"
local token = os.getenv("TOKEN") or "demo-pos-token"
local run = os.time()

function init(args)
  counter = 0
  completed = 0
end

local items = '"orderItems":[{"id":"1","productId":"11111","name":"Espresso","quantity":2,'
  .. '"unitPrice":2.50,"totalPrice":5.00,"vat":1.00,"vatRate":20,"categoryName":"Hot Beverages"},'
  .. '{"id":"2","productId":"22222","name":"Dinner","quantity":1,"unitPrice":45.00,'
  .. '"totalPrice":45.00,"vat":9.00,"vatRate":20}]'
local ask = '{"orderId":"load-%s-%d-%d-%d","cardId":"%s","total":50.00,"currency":"EUR",'
  .. '"branchId":"SLOVAK_PUB",' .. items .. '}'
local done_bill = '{"event":"order.completed","orderId":"load-%s-%d-%d-%d","cardId":"%s","paid":1,'
  .. '"status":"closed","total":45.00,"currency":"EUR","completed":"2025-10-21T10:35:12.000Z",'
  .. '"branchId":"SLOVAK_PUB",' .. items .. '}'

-- A thread's connections run side by side: bill k is completed 64 bills after it was asked
-- for (more than a thread's connections), so its discount has long been answered.
local LAG = 64

function request()
  counter = counter + 1
  local bill = math.floor((counter + 1) / 2)
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if counter % 2 == 1 or bill <= LAG then
    local card = "card-" .. ((bill * 7 + thread_id) % cards)
    return wrk.format("POST", "/pos/papaya/v1/discounts", headers,
      string.format(ask, prefix, run, thread_id, bill, card))
  end
  bill = bill - LAG
  local card = "card-" .. ((bill * 7 + thread_id) % cards)
  return wrk.format("POST", "/pos/papaya/v1/transactions", headers,
    string.format(done_bill, prefix, run, thread_id, bill, card))
end

-- Connections of a thread interleave: a completion is told by its answer, not its order.
function response(status, headers, body)
  if status == 200 and string.find(body, '"success":true', 1, true) then
    completed = completed + 1
  end
end

function done(summary, latency, requests)
  local acknowledged = 0
  for _, thread in ipairs(threads) do
    acknowledged = acknowledged + thread:get("completed")
  end
  io.write(string.format("acknowledged: %d\n", acknowledged))
end
