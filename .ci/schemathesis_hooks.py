"""Schemathesis hooks for `.ci/schemathesis` (loaded through SCHEMATHESIS_HOOKS).

- `application/wasm` bodies (a policy upload) are sent as the raw bytes generated for
  them: Schemathesis has no serializer of its own for that media type.
- A valid Papaya bill names a card that exists: positive cases get the merchant's card
  (`RABAT_ST_CARD`), since an unknown card is Papaya's error 3 by contract. Negative
  cases keep whatever was generated.
- A valid campaign ends after it starts: JSON Schema cannot compare two fields, so a
  positive case whose `endsAt` is not after its `startsAt` gets `endsAt: null` (never
  ends) instead of the 400 (id 7) the server rightly answers. A coupon batch likewise:
  `validUntil` after `validFrom`, and `generate` only with a `pattern`.
- `{m}` is pinned by `.ci/schemathesis.toml` to the group's merchant, so a negative case
  made negative through `m` alone sends that valid merchant: nothing invalid reaches the
  server, and such cases are skipped rather than reported as "schema-violating request
  accepted".
"""

import os

import schemathesis

CARD = os.environ.get("RABAT_ST_CARD", "st-card")
PAPAYA = {"/pos/papaya/v1/discounts", "/pos/papaya/v1/transactions"}
CAMPAIGNS = {"/admin/v1/merchants/{m}/campaigns", "/admin/v1/merchants/{m}/campaigns/{id}"}
BATCHES = {"/admin/v1/merchants/{m}/coupon-batches"}


@schemathesis.serializer("application/wasm")
def wasm(ctx, value):
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@schemathesis.hook
def map_case(context, case):
    if not positive(case) or not isinstance(case.body, dict):
        return case
    path = case.operation.path
    if path in PAPAYA and isinstance(case.body.get("cardId"), str):
        case.body["cardId"] = CARD
    if path in CAMPAIGNS:
        starts, ends = case.body.get("startsAt"), case.body.get("endsAt")
        if number(starts) and number(ends) and ends <= starts:
            case.body["endsAt"] = None
    if path in BATCHES:
        starts, ends = case.body.get("validFrom"), case.body.get("validUntil")
        if number(starts) and number(ends) and ends <= starts:
            case.body["validUntil"] = None
        if case.body.get("pattern") is None:
            case.body.pop("generate", None)
    return case


@schemathesis.hook
def filter_case(context, case):
    meta = case.meta
    if meta is None or meta.generation.mode.is_positive:
        return True
    data = getattr(meta.phase, "data", None)
    location = getattr(data, "parameter_location", None)
    pinned = getattr(data, "parameter", None) == "m" and str(getattr(location, "value", location)) == "path"
    return not pinned
