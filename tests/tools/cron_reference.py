#!/usr/bin/env python3
"""cron_reference.py - an independent reference for `btrun schedules list --format json`.

Fire times of five-field cron expressions in IANA zones, computed with Python's zoneinfo
(its own reading of the tz database) and this file's own cron matcher, under the rules of
docs/schedules.md: a local time skipped by a forward change fires once at the first valid
minute after the gap; a local time that happens twice fires once, at its first occurrence
(zoneinfo's fold=0); day-of-month and day-of-week are ORed when both are restricted.

usage: cron_reference.py FROM COUNT NAME=ZONE|EXPR ...   -> JSON like btrun's list
"""
import datetime as dt
import json
import sys
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
SHORT = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
         "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
         "@hourly": "0 * * * *"}


def field(text, lo, hi, names=None, top=None):
    top = hi if top is None else top

    def val(s):
        if names and s.upper() in names:
            return names.index(s.upper()) + lo
        return int(s)

    out = set()
    for item in text.split(","):
        rng, _, step = item.partition("/")
        step = int(step) if step else 1
        if rng == "*":
            a, b = lo, top
        elif "-" in rng:
            a, b = (val(x) for x in rng.split("-"))
        else:
            a = val(rng)
            b = top if step != 1 or "/" in item else a
        out.update(range(a, b + 1, step))
    return out


def parse(expr):
    expr = SHORT.get(expr.strip().lower(), expr)
    m, h, dom, mon, dow = expr.split()
    dows = {d % 7 for d in field(dow, 0, 7, DAYS, top=6)}
    return (field(m, 0, 59), field(h, 0, 23), field(dom, 1, 31), field(mon, 1, 12, MONTHS),
            dows, dom.startswith("*") or dow.startswith("*"))


def day_matches(c, d):
    _, _, dom, mon, dow, star = c
    if d.month not in mon:
        return False
    a, b = d.day in dom, (d.isoweekday() % 7) in dow
    return (a and b) if star else (a or b)


def exists(local, z):
    u = local.replace(tzinfo=z, fold=0).astimezone(UTC)
    return u if u.astimezone(z).replace(tzinfo=None) == local else None


def resolve(local, z):
    u = exists(local, z)
    while u is None:  # in a gap: walk to the first minute that exists
        local += dt.timedelta(minutes=1)
        u = exists(local, z)
    return u


def fires(expr, zone, frm, count):
    c, z = parse(expr), ZoneInfo(zone)
    day = frm.astimezone(z).date() - dt.timedelta(days=2)
    out, stop = set(), None
    for _ in range(366 * 30):
        if stop and day > stop:
            break
        if day_matches(c, day):
            for h in sorted(c[1]):
                for m in sorted(c[0]):
                    u = resolve(dt.datetime(day.year, day.month, day.day, h, m), z)
                    if u > frm:
                        out.add(u)
        if stop is None and len(out) >= count:
            stop = max(out).astimezone(z).date() + dt.timedelta(days=2)
        day += dt.timedelta(days=1)
    return [u.strftime("%Y-%m-%dT%H:%M:%SZ") for u in sorted(out)[:count]]


def main():
    frm = dt.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
    count = int(sys.argv[2])
    res = []
    for spec in sys.argv[3:]:
        name, _, rest = spec.partition("=")
        zone, _, expr = rest.partition("|")
        res.append({"name": name, "next": fires(expr, zone, frm, count)})
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
