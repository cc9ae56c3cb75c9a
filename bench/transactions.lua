-- wrk script: Papaya endpoint 2, every request a new order (so every 200 is a durable
-- ledger row and a card update). Each wrk thread numbers its own orders.
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
end

local template = '{"event":"order.completed","orderId":"load-%d-%d-%d","cardId":"memberCardId","paid":1,'
  .. '"status":"closed","total":25.50,"totalWithoutVat":21.00,"currency":"EUR","vat":4.50,'
  .. '"created":"2025-10-21T10:30:00.000Z","completed":"2025-10-21T10:35:12.000Z","branchId":"SLOVAK_PUB",'
  .. '"orderItems":[{"id":"1","productId":"11111","name":"Espresso","quantity":2,"unitPrice":2.50,'
  .. '"totalPrice":5.00,"vat":1.00,"vatRate":20,"categoryName":"Hot Beverages"}]}'
local run = os.time()

function request()
  counter = counter + 1
  local body = string.format(template, run, thread_id, counter)
  return wrk.format("POST", "/pos/papaya/v1/transactions",
    {["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "demo-pos-token"),
     ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect
    - summary.errors.read - summary.errors.write - summary.errors.timeout
  io.write(string.format("acknowledged: %d\n", ok))
end
