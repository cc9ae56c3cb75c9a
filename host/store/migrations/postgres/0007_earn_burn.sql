-- Earn and burn (issue 10). Keep in step with ../sqlite/0007_earn_burn.sql.
--
-- Points a till was offered for an open order are held until the bill completes (and a
-- redemption takes them) or the hold expires. One hold per (merchant, order): a repeat of
-- endpoint 1 for the order replaces it. `offer` is the till's last offer for the order as
-- JSON (what `accrue` sees when the bill completes). A card's available points are its
-- balance minus the unexpired holds of its other orders. No foreign key to cards, like the
-- ledger: holds of a deleted card are deleted with it.
CREATE TABLE holds (
    merchant_id TEXT   NOT NULL REFERENCES merchants (id),
    order_id    TEXT   NOT NULL,
    card_id     TEXT   NOT NULL,
    points      BIGINT NOT NULL CHECK (points > 0),
    offer       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, order_id)
);
CREATE INDEX holds_by_card ON holds (merchant_id, card_id, expires_at);

-- The ledger gains 'burn' rows (a redemption of held points, its own row beside the
-- bill's 'transaction' row, under the same order id) and `card_changes` (the tier and
-- tags a policy's `accrue` changed, JSON, on the bill's row). An order may now have one
-- row of each kind, so uniqueness moves to (merchant_id, order_id, kind).
ALTER TABLE ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check
    CHECK (kind IN ('transaction', 'adjustment', 'burn'));
ALTER TABLE ledger ADD CONSTRAINT ledger_burn_check
    CHECK (kind <> 'burn' OR (order_id IS NOT NULL AND points <= 0));
ALTER TABLE ledger DROP CONSTRAINT ledger_merchant_id_order_id_key;
ALTER TABLE ledger ADD CONSTRAINT ledger_merchant_id_order_id_kind_key
    UNIQUE (merchant_id, order_id, kind);
ALTER TABLE ledger ADD COLUMN card_changes TEXT;

-- Endpoint 2 reads the order's latest endpoint-1 answer when it has no hold.
CREATE INDEX evaluations_by_order ON evaluations (merchant_id, order_id, id);
