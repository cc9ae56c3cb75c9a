-- Coupons and the card's wallet (issue 18). Keep in step with ../postgres/0013_coupons.sql.
--
-- - `coupon_batches`: a merchant's batch of codes: what each is worth (`value`, JSON of
--   `rabat_domain::coupon::CouponValue`), the least bill (`min_bill`, a decimal as text),
--   validity (fixed `valid_from`/`valid_until`, epoch ms, and/or `valid_days` counted from
--   a code's issue), uses per code, and the pattern of its generated codes (NULL: imported).
-- - `coupons`: one row per code, unique per merchant (stored upper case). `card_id` NULL is
--   an unassigned (flyer) code. `uses` counts redemptions and never passes `max_uses` (the
--   CHECK is the last guard; the reservation piece keeps it exact). The row is also the
--   code's lock: endpoint 1 takes it (after the card's, before any budget's) to check and
--   hold, a bill's transaction takes it (after all of its cards') to redeem.
-- - `coupon_holds`: the codes an open order holds, written, replaced and deleted with the
--   order's `holds` row (the foreign key deletes them with it). Unexpired rows hold.
-- - `coupon_redemptions`: each redemption, once per (code, order); `restored_at` when an
--   audited admin restore (or a return) gave the use back.
-- - `cards.profile`: JSON of `rabat_domain::coupon::Profile` (birthday, attributes).
ALTER TABLE cards ADD COLUMN profile TEXT;

CREATE TABLE coupon_batches (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id   TEXT    NOT NULL REFERENCES merchants (id),
    name          TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    min_bill      TEXT,
    valid_from    INTEGER,
    valid_until   INTEGER,
    valid_days    INTEGER CHECK (valid_days IS NULL OR valid_days > 0),
    uses_per_code INTEGER NOT NULL DEFAULT 1 CHECK (uses_per_code > 0),
    pattern       TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (merchant_id, name)
) STRICT;

CREATE TABLE coupons (
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    code        TEXT    NOT NULL,
    batch_id    INTEGER NOT NULL REFERENCES coupon_batches (id),
    card_id     TEXT,
    max_uses    INTEGER NOT NULL CHECK (max_uses > 0),
    uses        INTEGER NOT NULL DEFAULT 0,
    issued_at   INTEGER,
    valid_from  INTEGER,
    valid_until INTEGER,
    voided_at   INTEGER,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, code),
    CHECK (uses >= 0 AND uses <= max_uses)
) STRICT;
CREATE INDEX coupons_by_card ON coupons (merchant_id, card_id, valid_until);
CREATE INDEX coupons_by_batch ON coupons (merchant_id, batch_id, code);

CREATE TABLE coupon_holds (
    merchant_id TEXT    NOT NULL,
    order_id    TEXT    NOT NULL,
    code        TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id, code),
    FOREIGN KEY (merchant_id, order_id) REFERENCES holds (merchant_id, order_id)
        ON DELETE CASCADE
) STRICT;
CREATE INDEX coupon_holds_by_code ON coupon_holds (merchant_id, code, expires_at);

CREATE TABLE coupon_redemptions (
    merchant_id TEXT    NOT NULL,
    code        TEXT    NOT NULL,
    order_id    TEXT    NOT NULL,
    card_id     TEXT    NOT NULL,
    redeemed_at INTEGER NOT NULL,
    restored_at INTEGER,
    PRIMARY KEY (merchant_id, code, order_id)
) STRICT;
