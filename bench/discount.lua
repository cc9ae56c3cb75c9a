-- wrk script: Papaya endpoint 1 with the seed's bill, as the demo POS.
local f = assert(io.open(os.getenv("BILL") or "examples/data/bills/papaya-discount-request.json", "r"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Authorization"] = "Bearer demo-pos-token"
wrk.headers["Content-Type"] = "application/json"
