-- Returns (issue 19). Keep in step with ../sqlite/0014_returns.sql, which explains the table.
--
-- One row per return of a recorded bill, by the merchant's return id (a repeat with the
-- same request is the same return; another request under that id is a conflict). It keeps
-- what was returned (`value`, the lines as JSON: line id -> quantity), what it did to the
-- card — `points_taken` of the points the bill earned (pro rata, cumulative floor, see
-- `rabat_domain::returns`), `points_given` back of the points it burned, the `shortfall`
-- it could not take without the card going below zero — the coupons it restored, the
-- campaign budget and limit usage it gave back (`usage`, JSON), and the ledger rows it
-- wrote (as adjustments with the return named in their reason).
CREATE TABLE returns (
    merchant_id   TEXT    NOT NULL REFERENCES merchants (id),
    return_id     TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    card_id       TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    whole         BIGINT NOT NULL CHECK (whole IN (0, 1)),
    lines         TEXT    NOT NULL,
    points_taken  BIGINT NOT NULL CHECK (points_taken >= 0),
    points_given  BIGINT NOT NULL CHECK (points_given >= 0),
    shortfall     BIGINT NOT NULL CHECK (shortfall >= 0),
    coupons       TEXT    NOT NULL,
    usage         TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, return_id)
);
CREATE INDEX returns_by_order ON returns (merchant_id, order_id);
