#!/usr/bin/env python3
"""Generates rules-guest/src/tzdata.rs (the SDK's time-zone table) and
rules-guest/tz/check-2026.txt (what the system's tzdata says about 2026, for the tests).

    python3 rules-guest/tz/generate.py [/usr/share/zoneinfo]

For every IANA zone name (Python's zoneinfo.available_timezones(): canonical zones and
links), it reads the POSIX TZ rule at the end of the zone's TZif file (e.g.
`CET-1CEST,M3.5.0,M10.5.0/3` for Europe/Bratislava): the rule in force today and for
every future year. The rules are parsed here, once, into a compact table; the SDK only
evaluates them. Before writing, every zone's rule is checked against the system's
tzdata (zoneinfo) for every hour of 2025-2028: a zone whose clock the rule does not
describe (Africa/Casablanca's, Asia/Gaza's changes follow Ramadan, which a POSIX rule
cannot say) is written as unsupported, so the SDK refuses it by name rather than
answering an hour off.
"""
import datetime as dt
import os
import re
import sys
import zoneinfo

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/zoneinfo"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "src", "tzdata.rs")
CHECK = os.path.join(HERE, "check-2026.txt")
UNSUPPORTED = 127


def version():
    with open(os.path.join(ROOT, "tzdata.zi")) as f:
        return f.readline().split()[-1]


def footer(name):
    with open(os.path.join(ROOT, name), "rb") as f:
        data = f.read()
    return data.rstrip(b"\n").rsplit(b"\n", 1)[1].decode()


def hms(text):
    """[+-]h[:mm[:ss]] in minutes; seconds are not expected."""
    m = re.fullmatch(r"([+-]?)(\d+)(?::(\d+))?(?::(\d+))?", text)
    assert m, text
    assert not m.group(4) or m.group(4) == "00", text
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    return -minutes if m.group(1) == "-" else minutes


def parse(tz):
    """(std east minutes, dst east minutes, start, end), start/end = (m, w, d, minutes)."""
    name = r"(?:<[^>]+>|[A-Za-z]+)"
    off = r"[+-]?\d+(?::\d+){0,2}"
    m = re.fullmatch(
        rf"{name}({off})(?:{name}({off})?(?:,(.*),(.*))?)?", tz
    )
    assert m, tz
    std = -hms(m.group(1))
    if m.group(3) is None:
        assert m.group(2) is None, tz
        # A DST name with no rules would mean the US default; tzdata always says.
        assert not re.fullmatch(rf"{name}{off}{name}", tz), tz
        return (std, std, None, None)
    dst = -hms(m.group(2)) if m.group(2) else std + 60

    def change(text):
        r = re.fullmatch(r"M(\d+)\.(\d)\.(\d)(?:/(.*))?", text)
        assert r, f"{tz}: only Mm.w.d rules are expected"
        return (int(r.group(1)), int(r.group(2)), int(r.group(3)), hms(r.group(4) or "2"))

    return (std, dst, change(m.group(3)), change(m.group(4)))


def days_from_civil(y, m, d):
    return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days


def change_day(year, month, week, weekday):
    """Day (since 1970) of the week-th `weekday` of month (week 5 = the last)."""
    first = days_from_civil(year, month, 1)
    first_wd = (first + 4) % 7  # 0 = Sunday; 1970-01-01 was a Thursday
    day = first + (weekday - first_wd) % 7 + (week - 1) * 7
    nxt = days_from_civil(year + (month == 12), month % 12 + 1, 1)
    while day >= nxt:
        day -= 7
    return day


def offset(rule, t):
    """The rule's UTC offset in minutes at epoch second t (the SDK's algorithm)."""
    std, dst, start, end = rule
    if start is None:
        return std
    year = dt.datetime.fromtimestamp(t + std * 60, dt.timezone.utc).year
    s = change_day(year, *start[:3]) * 86400 + (start[3] - std) * 60
    e = change_day(year, *end[:3]) * 86400 + (end[3] - dst) * 60
    if s <= e:
        return dst if s <= t < e else std
    return std if e <= t < s else dst


def truth(zone, t):
    d = dt.datetime.fromtimestamp(t, zone)
    return int(d.utcoffset().total_seconds()) // 60


def main():
    names = sorted(zoneinfo.available_timezones())
    rules, index, table, check = [], {}, [], []
    unsupported = []
    start = int(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    stop = int(dt.datetime(2029, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    for name in names:
        tz = footer(name)
        rule = parse(tz)
        zone = zoneinfo.ZoneInfo(name)
        ok = all(
            offset(rule, t) == truth(zone, t) for t in range(start, stop, 3600)
        )
        if not ok:
            unsupported.append(name)
            table.append((name, UNSUPPORTED))
            continue
        if rule not in index:  # CET-1CEST and MET-1MEST,… are one rule
            index[rule] = len(rules)
            rules.append((tz, rule))
        table.append((name, index[rule]))
        # 2026 for the tests, as the system's tzdata says (not as the rule says).
        y0 = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())
        y1 = int(dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp())
        line = [name, str(truth(zone, y0))]
        t, prev = y0, truth(zone, y0)
        while t < y1:
            t += 3600
            if truth(zone, t) != prev:
                lo, hi = t - 3600, t  # prev at lo, changed at hi: find the second
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if truth(zone, mid) == prev:
                        lo = mid
                    else:
                        hi = mid
                prev = truth(zone, hi)
                line += [str(hi), str(prev)]
        check.append(" ".join(line))
    assert len(rules) < UNSUPPORTED

    # Names are stored with their region ("America", "Europe", …) as one byte, 1 to
    # len(REGIONS), which saves a third of the table; sorted as stored.
    regions = sorted({n.rsplit("/", 1)[0] for n, _ in table if "/" in n})
    assert len(regions) < 0x20

    def encoded(name):
        if "/" not in name:
            return name.encode()
        region, city = name.rsplit("/", 1)
        return bytes([regions.index(region) + 1]) + city.encode()

    entries = sorted((encoded(n), i) for n, i in table)
    out = []
    w = out.append
    w(f"// @generated by rules-guest/tz/generate.py from tzdata {version()}; do not edit.\n\n")
    w("use super::{Change, Rule};\n\n")
    w(f'/// The tzdata release the table was generated from.\npub(crate) const VERSION: &str = "{version()}";\n\n')
    w(f"/// The rule index of a zone whose clock no POSIX rule describes (past the end of RULES).\n#[allow(dead_code)] // by name in the tests only\npub(crate) const UNSUPPORTED: u8 = {UNSUPPORTED};\n\n")
    w("/// The regions of the names, in order: region byte 1 is the first.\n")
    w("pub(crate) static REGIONS: [&str; %d] = [\n" % len(regions))
    for r in regions:
        w(f'    "{r}",\n')
    w("];\n\n")
    w("/// Every IANA zone name: an optional region byte (< 0x20), the rest of the name, then\n")
    w("/// one byte >= 0x80: 0x80 + the zone's index in RULES (or + UNSUPPORTED). Sorted as\n")
    w("/// stored, for a binary search.\n")
    w("#[rustfmt::skip]\npub(crate) static NAMES: &[u8] = b\"\\\n")
    for e, i in entries:
        text = "".join(chr(b) if b >= 0x20 else f"\\x{b:02x}" for b in e)
        w(f"{text}\\x{0x80 + i:02x}\\\n")
    w('";\n\n')
    w("#[rustfmt::skip]\npub(crate) static RULES: [Rule; %d] = [\n" % len(rules))
    for tz, (std, dst, s_, e_) in rules:
        if s_ is None:
            w(f"    Rule::fixed({std}), // {tz}\n")
        else:
            def c(x):
                return f"Change::new({x[0]}, {x[1]}, {x[2]}, {x[3]})"
            w(f"    Rule::dst({std}, {dst}, {c(s_)}, {c(e_)}), // {tz}\n")
    w("];\n")
    with open(OUT, "w") as f:
        f.write("".join(out))
    with open(CHECK, "w") as f:
        f.write(f"# tzdata {version()}: zone, UTC offset (minutes) on 2026-01-01T00:00Z, then each change in 2026: epoch second, new offset\n")
        f.write("\n".join(check) + "\n")
    print(f"{len(table)} zones, {len(rules)} rules, {len(unsupported)} unsupported: {' '.join(unsupported)}")


main()
