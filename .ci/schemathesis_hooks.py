"""Schemathesis hooks for `.ci/schemathesis` (loaded through SCHEMATHESIS_HOOKS).

- `application/wasm` bodies (a policy upload) are sent as the raw bytes generated for
  them: Schemathesis has no serializer of its own for that media type.
- A valid Papaya bill names a card that exists: positive cases get the merchant's card
  (`RABAT_ST_CARD`), since an unknown card is Papaya's error 3 by contract. Negative
  cases keep whatever was generated.
"""

import os

import schemathesis

CARD = os.environ.get("RABAT_ST_CARD", "st-card")
PAPAYA = {"/pos/papaya/v1/discounts", "/pos/papaya/v1/transactions"}


@schemathesis.serializer("application/wasm")
def wasm(ctx, value):
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context, case):
    if not positive(case) or not isinstance(case.body, dict):
        return case
    path = case.operation.path
    if path in PAPAYA and isinstance(case.body.get("cardId"), str):
        case.body["cardId"] = CARD
    return case
