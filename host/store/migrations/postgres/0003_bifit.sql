-- BIFIT Kassa connector, PostgreSQL engine. Keep in step with ../sqlite/0003_bifit.sql.
-- (0002 is reserved for another change.)
--
-- Tokens are never stored in the clear: access_token, refresh_token and
-- oauth_client_secret hold XChaCha20-Poly1305 ciphertexts sealed with the server's
-- secrets key (see src/secrets.rs).

CREATE TABLE bifit_connectors (
    merchant_id         TEXT    NOT NULL PRIMARY KEY REFERENCES merchants (id),
    base_url            TEXT    NOT NULL,
    access_token        TEXT    NOT NULL,
    refresh_token       TEXT,
    token_url           TEXT,
    oauth_client_id     TEXT,
    oauth_client_secret TEXT,
    card_lookup         TEXT    NOT NULL CHECK (card_lookup IN ('clientId', 'caller')),
    updated_at          BIGINT  NOT NULL,
    tokens_refreshed_at BIGINT
);

-- Online orders followed until BIFIT reports a final status. A row is claimed by one
-- follower at a time through its lease (lease_owner, lease_until); `state` leaves
-- 'tracking' once, for good.
CREATE TABLE bifit_orders (
    id             BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    order_id       TEXT    NOT NULL,
    card_id        TEXT,
    state          TEXT    NOT NULL
                   CHECK (state IN ('tracking', 'recorded', 'voided', 'expired', 'failed')),
    bifit_status   TEXT,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    first_seen_at  BIGINT  NOT NULL,
    last_polled_at BIGINT,
    next_poll_at   BIGINT  NOT NULL,
    lease_owner    TEXT,
    lease_until    BIGINT,
    last_error     TEXT,
    finished_at    BIGINT,
    UNIQUE (merchant_id, order_id)
);
CREATE INDEX bifit_orders_due ON bifit_orders (state, next_poll_at);
CREATE INDEX bifit_orders_by_merchant ON bifit_orders (merchant_id, id);

-- A BIFIT order names its customer by clientId; the merchant maps it to a card by
-- setting the card's customerId.
CREATE INDEX cards_by_customer ON cards (merchant_id, customer_id);
