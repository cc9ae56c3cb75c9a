-- wrk script: Papaya endpoint 1 with the seed's bill, as the POS whose token is $TOKEN.
local f = assert(io.open(os.getenv("BILL") or "examples/data/bills/papaya-discount-request.json", "r"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("TOKEN"), "set TOKEN")
wrk.headers["Content-Type"] = "application/json"
