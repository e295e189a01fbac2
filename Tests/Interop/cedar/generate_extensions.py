"""Seeded difftest cases for Cedar's `ipaddr`, `datetime` and `duration` extensions (issue 14 item 4).

Constructor arguments mix valid texts with near misses (leading zeros, out-of-range fields, leap seconds,
embedded IPv4, unit order, 64-bit overflow), so that both values and Cedar's error behaviour are compared.
Context values are always valid (`__extn`, including a nested `offset`), since cedarpy refuses invalid data.
"""

from __future__ import annotations

import random

VALID_IPS = [
    "10.0.0.1", "10.0.0.0/8", "10.1.2.3/24", "127.0.0.1", "127.255.0.9/8", "127.0.0.1/4", "0.0.0.0/0",
    "192.168.1.10", "224.0.0.1", "239.1.2.3/4", "224.0.0.0/3", "255.255.255.255/32", "::1", "::", "::/0",
    "ff00::/8", "ff02::1", "FF02::1/16", "fe80::1/64", "1:2:3:4:5:6:7:8", "2001:db8::/32", "2001:db8::1",
    "::ffff:ff00:1", "1::", "1:2::7:8/128", "0:0:0:0:0:0:0:1",
]
INVALID_IPS = [
    "01.2.3.4", "1.2.3.256", "1.2.3", "1.2.3.4.5", "1.2.3.4/33", "1.2.3.4/033", "1.2.3.4/+5", "1.2.3.4/",
    "::ffff:1.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "fe80::1/129",
    "fe80::1/0128", ":::", "g::1", "", "/", "1.2.3.4/8/8", " 1.2.3.4", "::1%eth0", "1.2.3.-4",
]
VALID_DATETIMES = [
    "2024-10-15", "2024-10-15T11:38:02Z", "2024-10-15T11:38:02.101Z", "2024-10-15T11:38:02.101+1134",
    "2024-10-15T11:38:02-1134", "2024-10-15T23:59:00+2359", "2024-10-15T00:00:00-2359", "1970-01-01",
    "1969-12-31T23:59:59.999Z", "0000-01-01", "9999-12-31T23:59:59.999-2359", "2024-02-29", "2000-02-29",
    "1900-03-01T00:00:00Z", "2024-10-16T00:00:00+0000",
]
INVALID_DATETIMES = [
    "2024-02-30", "2025-02-29", "1900-02-29", "2024-00-01", "2024-13-01", "2024-01-32", "2024-1-01",
    "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2016-12-31T23:59:60Z", "2024-01-01T00:00:00",
    "2024-01-01T00:00:00+2400", "2024-01-01T00:00:00-0060", "2024-01-01 00:00:00Z", "2024-01-01T00:00Z",
    "2024-01-01T00:00:00.1Z", "2024-01-01T00:00:00ZZ", "10000-01-01", "2024-10-15Z", "", "-1",
    "2024-01-01T00:00:00+01:00",
]
VALID_DURATIONS = [
    "1d2h3m4s5ms", "-1h", "0ms", "1m1s", "1d", "24h", "86400000ms", "-1d23h59m59s999ms", "90m", "59s",
    "9223372036854775807ms", "-9223372036854775808ms", "106751991167d", "1h30m", "-0ms", "999ms",
]
INVALID_DURATIONS = [
    "1s1m", "", "-", "1x", "9223372036854775808ms", "-9223372036854775809ms", "106751991168d", "1d1d",
    "1.5h", "+1h", "1h-2m", "h", "1", "1 h", "1ms1s", "18446744073709551616ms", "1D",
]
COMPARISONS = ["<", "<=", ">", ">=", "==", "!="]


def q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pick(rng: random.Random, valid: list[str], invalid: list[str]) -> str:
    return rng.choice(invalid) if rng.random() < 0.2 else rng.choice(valid)


def ip(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return "context.ip"
    return f"ip({q(pick(rng, VALID_IPS, INVALID_IPS))})"


def datetime(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return "context.when"
    if roll < 0.22:
        return "context.shifted"
    return f"datetime({q(pick(rng, VALID_DATETIMES, INVALID_DATETIMES))})"


def duration(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return "context.span"
    return f"duration({q(pick(rng, VALID_DURATIONS, INVALID_DURATIONS))})"


def long(rng: random.Random) -> str:
    return str(rng.choice([0, 1, -1, 23, 24, 59, 60, 1000, 86400, 9223372036854775807]))


def expression(rng: random.Random) -> str:
    choices = [
        lambda: f"{ip(rng)}.{rng.choice(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast'])}()",
        lambda: f"{ip(rng)}.isInRange({ip(rng)})",
        lambda: f"{ip(rng)} {rng.choice(['==', '!='])} {ip(rng)}",
        lambda: f"{datetime(rng)} {rng.choice(COMPARISONS)} {datetime(rng)}",
        lambda: f"{duration(rng)} {rng.choice(COMPARISONS)} {duration(rng)}",
        lambda: f"{datetime(rng)}.offset({duration(rng)}) {rng.choice(COMPARISONS)} {datetime(rng)}",
        lambda: f"{datetime(rng)}.durationSince({datetime(rng)}) {rng.choice(COMPARISONS)} {duration(rng)}",
        lambda: f"{datetime(rng)}.toDate() {rng.choice(COMPARISONS)} {datetime(rng)}",
        lambda: f"{datetime(rng)}.toTime() {rng.choice(COMPARISONS)} {duration(rng)}",
        lambda: (
            f"{duration(rng)}.{rng.choice(['toMilliseconds', 'toSeconds', 'toMinutes', 'toHours', 'toDays'])}() "
            f"{rng.choice(COMPARISONS)} {long(rng)}"
        ),
        # Type errors and arity errors.
        lambda: f"{datetime(rng)} < {duration(rng)}",
        lambda: f"{ip(rng)} < {ip(rng)}",
        lambda: f"{rng.choice(['ip', 'datetime', 'duration'])}({rng.choice(['1', 'true', 'context.span'])}) == 1",
        lambda: f"{q('10.0.0.1')}.isIpv4()",
        lambda: f"{datetime(rng)}.isInRange({ip(rng)})",
        lambda: f"{duration(rng)}.offset({duration(rng)}) == {datetime(rng)}",
        lambda: f"{ip(rng)}.isLoopback() && {datetime(rng)} > {datetime(rng)}",
        lambda: f"{datetime(rng)} == {duration(rng)}",
        lambda: f"[{datetime(rng)}, {duration(rng)}].contains({datetime(rng)})",
        lambda: f"{{a: {ip(rng)}}} == {{a: {ip(rng)}}}",
        lambda: f"decimal(\"1.0\") < decimal(\"2.0\")",
        lambda: f"{datetime(rng)}.toDate().toTime() == duration(\"0ms\")",
    ]
    return rng.choice(choices)()


def extn(function: str, argument: str) -> dict:
    return {"__extn": {"fn": function, "arg": argument}}


def context(rng: random.Random) -> dict:
    return {
        "ip": extn("ip", rng.choice(VALID_IPS)),
        "when": extn("datetime", rng.choice(VALID_DATETIMES)),
        "span": extn("duration", rng.choice(VALID_DURATIONS[:10])),
        "shifted": {
            "__extn": {
                "fn": "offset",
                "args": [extn("datetime", rng.choice(VALID_DATETIMES[:8])), extn("duration", rng.choice(VALID_DURATIONS[:8]))],
            }
        },
    }


def extension_cases(seed: int, count: int, requests_per_case: int = 4) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        policies = []
        for _ in range(rng.randint(1, 6)):
            effect = "permit" if rng.random() < 0.75 else "forbid"
            clause = "when" if rng.random() < 0.8 else "unless"
            policies.append(f"{effect}(principal, action, resource) {clause} {{ {expression(rng)} }};")
        request = {
            "principal": {"type": "User", "id": "u"},
            "action": {"type": "Action", "id": "a"},
            "resource": {"type": "Res", "id": "r"},
        }
        cases.append(
            {
                "name": f"extensions/{seed}/{number}",
                "policies": "\n".join(policies),
                "entities": [],
                "requests": [dict(request, context=context(rng)) for _ in range(requests_per_case)],
            }
        )
    return cases
