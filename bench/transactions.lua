-- wrk script: Papaya endpoint 2, every request a new order (so every 200 is a durable
-- ledger row and a card update). Each wrk thread numbers its own orders.
--   CARDS=N   spread the bills over cards card-0 … card-(N-1) (default: the one demo
--             card memberCardId, every bill on one hot card)
--   PREFIX=x  order ids start with load-x- (two wrk processes at once need two prefixes)
--   TOKEN=t   the POS token (default the demo's)
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

local cards = tonumber(os.getenv("CARDS") or "0")
local prefix = os.getenv("PREFIX") or "a"
local token = os.getenv("TOKEN") or "demo-pos-token"

function init(args)
  counter = 0
end

local template = '{"event":"order.completed","orderId":"load-%s-%d-%d-%d","cardId":"%s","paid":1,'
  .. '"status":"closed","total":25.50,"totalWithoutVat":21.00,"currency":"EUR","vat":4.50,'
  .. '"created":"2025-10-21T10:30:00.000Z","completed":"2025-10-21T10:35:12.000Z","branchId":"SLOVAK_PUB",'
  .. '"orderItems":[{"id":"1","productId":"11111","name":"Espresso","quantity":2,"unitPrice":2.50,'
  .. '"totalPrice":5.00,"vat":1.00,"vatRate":20,"categoryName":"Hot Beverages"}]}'
local run = os.time()

function request()
  counter = counter + 1
  local card = "memberCardId"
  if cards > 0 then
    card = "card-" .. ((counter * 7 + thread_id) % cards)
  end
  local body = string.format(template, prefix, run, thread_id, counter, card)
  return wrk.format("POST", "/pos/papaya/v1/transactions",
    {["Authorization"] = "Bearer " .. token,
     ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect
    - summary.errors.read - summary.errors.write - summary.errors.timeout
  io.write(string.format("acknowledged: %d\n", ok))
end
