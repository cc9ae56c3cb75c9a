#!/usr/bin/env python3
"""Writes bills/big-N.json: a deterministic N-line café bill (same output every run);
N is 200 unless given.

Run from examples/data/: python3 make-big-bill.py [N]   (the bench uses 200 and 1000)
"""
import json
from decimal import Decimal, ROUND_HALF_UP

MENU = [  # (productId, name, category id, category name, unit price, VAT rate)
    ("11111", "Espresso", "321827891478912", "Hot Beverages", "2.50", 20),
    ("11112", "Double Espresso", "321827891478912", "Hot Beverages", "3.20", 20),
    ("11113", "Cappuccino", "321827891478912", "Hot Beverages", "3.40", 20),
    ("11114", "Caffe Latte", "321827891478912", "Hot Beverages", "3.60", 20),
    ("11115", "Flat White", "321827891478912", "Hot Beverages", "3.80", 20),
    ("11116", "Americano", "321827891478912", "Hot Beverages", "2.90", 20),
    ("11117", "Hot Chocolate", "321827891478912", "Hot Beverages", "3.50", 20),
    ("11118", "Black Tea", "321827891478912", "Hot Beverages", "2.40", 20),
    ("12001", "Still Water 0.5l", "321827891478913", "Cold Beverages", "1.90", 20),
    ("12002", "Sparkling Water 0.5l", "321827891478913", "Cold Beverages", "1.90", 20),
    ("12003", "Fresh Orange Juice", "321827891478913", "Cold Beverages", "4.20", 20),
    ("12004", "Iced Tea", "321827891478913", "Cold Beverages", "3.10", 20),
    ("22222", "Butter Croissant", "321827891478914", "Bakery", "3.50", 20),
    ("22223", "Pain au Chocolat", "321827891478914", "Bakery", "3.80", 20),
    ("22224", "Cinnamon Roll", "321827891478914", "Bakery", "3.30", 20),
    ("22225", "Sourdough Slice", "321827891478914", "Bakery", "1.20", 20),
    ("3333332131", "Club Sandwich", "21421423131241", "Food", "6.50", 20),
    ("3333332132", "Caesar Salad", "21421423131241", "Food", "8.90", 20),
    ("3333332133", "Tomato Soup", "21421423131241", "Food", "4.80", 20),
    ("3333332134", "Quiche Lorraine", "21421423131241", "Food", "7.40", 20),
    ("44401", "Cheesecake", "21421423131242", "Desserts", "4.60", 20),
    ("44402", "Apple Strudel", "21421423131242", "Desserts", "4.20", 20),
    ("44403", "Chocolate Brownie", "21421423131242", "Desserts", "3.90", 20),
    ("55501", "Draft Beer 0.5l", "21421423131243", "Alcohol", "3.90", 20),
    ("55502", "Glass of Red Wine", "21421423131243", "Alcohol", "4.50", 20),
    ("55503", "Aperol Spritz", "21421423131243", "Alcohol", "6.90", 20),
]


def lcg(seed):
    while True:
        seed = (seed * 1103515245 + 12345) % 2**31
        yield seed


def main(lines):
    rnd = lcg(20251021)
    cents = Decimal("0.01")
    items, total, vat_total = [], Decimal(0), Decimal(0)
    for i in range(lines):
        pid, name, cat_id, cat, price, rate = MENU[(next(rnd) >> 16) % len(MENU)]
        qty = 1 + (next(rnd) >> 16) % 3
        unit = Decimal(price)
        line = unit * qty
        vat = (line * rate / (100 + rate)).quantize(cents, ROUND_HALF_UP)
        total += line
        vat_total += vat
        items.append({
            "id": str(215000000 + i), "productId": pid, "name": name, "description": None,
            "quantity": qty, "unitPrice": float(unit), "totalPrice": float(line),
            "vat": float(vat), "vatRate": rate, "categoryId": cat_id, "categoryName": cat,
            "ean": None, "note": None,
        })
    bill = {
        "orderId": "0012348799%04d" % lines, "cardId": "memberCardId", "status": "open",
        "total": float(total), "totalWithoutVat": float(total - vat_total), "currency": "EUR",
        "vat": float(vat_total), "created": "2025-10-24T15:10:00.000Z",
        "updated": "2025-10-24T15:48:09.000Z", "branchId": "SLOVAK_PUB",
        "note": "Company party, table 7", "orderItems": items,
    }
    text = json.dumps(bill, indent=1, ensure_ascii=False)
    # Money as written by a POS: always two decimals.
    for key in ("unitPrice", "totalPrice", "vat", "total", "totalWithoutVat"):
        text = __import__("re").sub(
            rf'"{key}": (-?\d+)\.(\d+)',
            lambda m: f'"{key}": {m.group(1)}.{m.group(2).ljust(2, "0")}', text)
    with open(f"bills/big-{lines}.json", "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    import sys
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
