#!/usr/bin/env python3
"""compress_corpus.py — writes the deterministic corpora of bench/compress_bench.sh.

Usage: compress_corpus.py OUT_DIR [SIZE]   (SIZE in bytes, default 102400)

Writes OUT_DIR/api.json (an API listing: records of products with ids, names, prices, tags,
timestamps, nested objects, descriptions) and OUT_DIR/page.html (a shop/news page: head with
inline CSS, nav, product cards, an article, a table, a footer with inline script), each exactly
SIZE bytes. Words follow a Zipf-like distribution over a fixed vocabulary and every choice comes
from random.Random with a fixed seed, so the files are the same on every machine and run (no
downloads). Values vary enough that the files are not trivially repetitive: typical gzip -6
ratios land near those of real API/HTML responses (0.15-0.30).
"""
import json
import random
import sys

WORDS = (
    "the of and to in is for on with as by at from this that be are it or an was not have "
    "new more all one can your our about will has their which but other also been when some "
    "product price order shipping customer account service quality design available colour "
    "size delivery return policy update release version feature support guide review rating "
    "light running shoe jacket cotton wool leather steel kitchen garden outdoor travel summer "
    "winter classic modern compact premium standard edition limited bundle offer discount "
    "network server request response latency cache storage cluster region deploy monitor "
    "market report analysis growth city council weather season football match election "
    "science research energy climate health school library museum concert festival river"
).split()
ADJ = "red blue green black white grey navy olive amber silver".split()
CATS = ["shoes", "outdoor", "kitchen", "garden", "books", "audio", "travel", "sports", "home"]
CITIES = ["Lyon", "Porto", "Gdansk", "Leeds", "Graz", "Turku", "Bilbao", "Bremen", "Cork"]


def zipf_words(rng, n):
    # Rank r drawn with weight 1/(r+1): a few very common words, a long tail.
    weights = [1.0 / (i + 1) for i in range(len(WORDS))]
    return " ".join(rng.choices(WORDS, weights=weights, k=n))


def fit(text, size, pad):
    data = text.encode()
    if len(data) >= size:
        return data[:size]
    return data + pad * (size - len(data))


def make_json(rng, size):
    items = []
    total = 0
    i = 0
    while total < size + 4096:
        i += 1
        item = {
            "id": 100000 + i * 7 + rng.randrange(7),
            "sku": "%s-%04d-%s" % (rng.choice(CATS)[:3].upper(), rng.randrange(10000),
                                   rng.choice(ADJ)[:2].upper()),
            "name": zipf_words(rng, rng.randint(2, 5)).title(),
            "category": rng.choice(CATS),
            "price": {"amount": round(rng.uniform(2, 400), 2), "currency": "EUR"},
            "stock": rng.randrange(0, 500),
            "rating": round(rng.uniform(1, 5), 1),
            "reviews": rng.randrange(0, 3000),
            "tags": rng.sample(WORDS[40:120], rng.randint(1, 4)),
            "colour": rng.choice(ADJ),
            "warehouse": {"city": rng.choice(CITIES), "bin": "%c%02d" % (65 + rng.randrange(26),
                                                                        rng.randrange(100))},
            "updated_at": "2024-%02d-%02dT%02d:%02d:%02dZ" % (
                rng.randint(1, 12), rng.randint(1, 28), rng.randrange(24), rng.randrange(60),
                rng.randrange(60)),
            "active": rng.random() < 0.9,
            "description": zipf_words(rng, rng.randint(8, 30)).capitalize() + ".",
        }
        items.append(item)
        total += len(json.dumps(item)) + 2
    doc = {"page": 1, "per_page": len(items), "total": 18342, "items": items}
    text = json.dumps(doc, indent=1)
    # Keep it valid JSON at exactly `size` bytes: cut at an item boundary, pad with spaces.
    data = text.encode()[:size - 64]
    cut = data.rfind(b"\n  }")
    body = data[:cut + 4] + b"\n ]\n}\n"
    return fit(body.decode(), size, b" ")


def make_html(rng, size):
    out = ["<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<title>Shop - %s</title>\n<style>\n" % zipf_words(rng, 3).title()]
    for sel in ["body", ".nav", ".card", ".card h3", ".price", "article p", "table td", "footer"]:
        out.append("%s { margin: %dpx; padding: %dpx %dpx; color: #%06x; font-size: %d%%; }\n" % (
            sel, rng.randrange(20), rng.randrange(16), rng.randrange(16), rng.randrange(1 << 24),
            rng.randrange(80, 140)))
    out.append("</style>\n</head>\n<body>\n<ul class=\"nav\">\n")
    for c in CATS:
        out.append("  <li><a href=\"/c/%s\">%s</a></li>\n" % (c, c.title()))
    out.append("</ul>\n<main>\n")
    n = 0
    while sum(len(s) for s in out) < size + 4096:
        n += 1
        kind = rng.random()
        if kind < 0.6:
            out.append(
                "<div class=\"card\" data-id=\"%d\">\n  <a href=\"/p/%d\"><img src=\"/img/%d.jpg\" "
                "alt=\"%s\" width=\"%d\" height=\"%d\" loading=\"lazy\"></a>\n  <h3>%s</h3>\n"
                "  <span class=\"price\">&euro;%.2f</span> <span class=\"stock\">%s</span>\n"
                "  <p>%s.</p>\n</div>\n" % (
                    n, 5000 + n, rng.randrange(100000), zipf_words(rng, 3), rng.choice([240, 320]),
                    rng.choice([180, 240]), zipf_words(rng, rng.randint(2, 5)).title(),
                    rng.uniform(2, 400), rng.choice(["In stock", "Low stock", "Sold out"]),
                    zipf_words(rng, rng.randint(10, 25)).capitalize()))
        elif kind < 0.85:
            out.append("<article>\n<h2>%s</h2>\n" % zipf_words(rng, 6).title())
            for _ in range(rng.randint(2, 4)):
                out.append("<p>%s.</p>\n" % zipf_words(rng, rng.randint(30, 70)).capitalize())
            out.append("</article>\n")
        else:
            out.append("<table>\n<tr><th>City</th><th>Orders</th><th>Revenue</th></tr>\n")
            for _ in range(rng.randint(3, 8)):
                out.append("<tr><td>%s</td><td>%d</td><td>%.2f</td></tr>\n" % (
                    rng.choice(CITIES), rng.randrange(10000), rng.uniform(100, 99999)))
            out.append("</table>\n")
    text = "".join(out)
    tail = ("</main>\n<footer>&copy; 2024</footer>\n<script>document.querySelectorAll('.card')"
            ".forEach(function (c) { c.addEventListener('click', function () { "
            "location.href = '/p/' + c.dataset.id; }); });</script>\n</body>\n</html>\n")
    data = text.encode()[:size - len(tail) - 64]
    cut = data.rfind(b"\n</div>\n")
    body = data[:cut + 8].decode() + tail
    return fit(body, size, b"\n")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: compress_corpus.py OUT_DIR [SIZE]")
    size = int(sys.argv[2]) if len(sys.argv) == 3 else 102400
    with open(sys.argv[1] + "/api.json", "wb") as f:
        f.write(make_json(random.Random(20240901), size))
    with open(sys.argv[1] + "/page.html", "wb") as f:
        f.write(make_html(random.Random(20240902), size))


if __name__ == "__main__":
    main()
