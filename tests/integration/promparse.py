"""promparse.py — a strict parser and validator of the Prometheus text format 0.0.4.

Used by test_admin.py on weir's /metrics. `parse(text)` returns {family name: Family} or raises
PromError naming the line. Checked:
  - line syntax: `# HELP name text`, `# TYPE name type`, other comments, samples
    `name{label="value",...} value [timestamp]`; metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label
    names [a-zA-Z_][a-zA-Z0-9_]* (not starting with __), label values with only the escapes
    \\\\, \\" and \\n, values as Go's ParseFloat takes them (+Inf, -Inf, NaN too);
  - HELP and TYPE at most once per family, both before its first sample, and TYPE for every
    family (weir always writes both); the samples of a family together (not interleaved with
    another family's); no duplicate series;
  - counters: value >= 0 (and, with strict=True, the name ends in _total);
  - histograms: per label set, _bucket samples with an `le` label, cumulative counts
    non-decreasing as le grows, a +Inf bucket equal to _count, a _sum and a _count; no other
    suffix; `le` only on _bucket;
  - gauges: a plain sample per series.
"""

import math
import re

METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class PromError(Exception):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []  # (sample name, {label: value}, float value)

    def __repr__(self):
        return "Family(%s, %s, %d samples)" % (self.name, self.type, len(self.samples))


def parse_float(s, where):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
        raise PromError("%s: bad number %r" % (where, s))
    return float(s)


def _unescape_help(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "\\n":
            out.append("\\" if s[i + 1] == "\\" else "\n")
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _parse_labels(s, i, where):
    """s[i] == '{'. Returns (labels dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL_RE.match(s, i)
        if not m:
            raise PromError("%s: bad label name at %r" % (where, s[i:i + 20]))
        name = m.group(0)
        if name.startswith("__"):
            raise PromError("%s: reserved label name %r" % (where, name))
        i = m.end()
        if s[i:i + 2] != '="':
            raise PromError("%s: expected =\" after label %r" % (where, name))
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise PromError("%s: unterminated label value" % where)
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt == "\\":
                    val.append("\\")
                elif nxt == '"':
                    val.append('"')
                elif nxt == "n":
                    val.append("\n")
                else:
                    raise PromError("%s: bad escape \\%s in label %r" % (where, nxt, name))
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise PromError("%s: raw newline in label value" % where)
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise PromError("%s: label %r twice" % (where, name))
        labels[name] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] == "}":
            pass
        else:
            raise PromError("%s: expected , or } after label %r" % (where, name))


def _family_of(sample, families):
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix):
            base = sample[:-len(suffix)]
            f = families.get(base)
            if f is not None and f.type in ("histogram", "summary"):
                return f
    return families.get(sample)


def parse(text, strict=True):
    if text and not text.endswith("\n"):
        raise PromError("the exposition does not end with a newline")
    families = {}
    order = []          # family names in the order their samples appeared
    closed = set()      # families whose samples ended (another family's started)
    series = set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        where = "line %d" % n
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_RE.fullmatch(name):
                    raise PromError("%s: bad metric name %r" % (where, name))
                f = families.setdefault(name, Family(name))
                if f.samples:
                    raise PromError("%s: %s for %s after its samples" % (where, parts[1], name))
                if parts[1] == "HELP":
                    if f.help is not None:
                        raise PromError("%s: second HELP for %s" % (where, name))
                    f.help = _unescape_help(parts[3] if len(parts) > 3 else "")
                else:
                    if f.type is not None:
                        raise PromError("%s: second TYPE for %s" % (where, name))
                    t = parts[3].strip() if len(parts) > 3 else ""
                    if t not in TYPES:
                        raise PromError("%s: unknown type %r" % (where, t))
                    f.type = t
            continue
        m = METRIC_RE.match(line)
        if not m:
            raise PromError("%s: bad metric name in %r" % (where, line[:60]))
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, where)
        rest = line[i:]
        if not rest.startswith(" "):
            raise PromError("%s: expected a space before the value in %r" % (where, line[:80]))
        fields = rest.split()
        if len(fields) not in (1, 2):
            raise PromError("%s: expected value [timestamp], got %r" % (where, rest))
        value = parse_float(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise PromError("%s: bad timestamp %r" % (where, fields[1]))
        f = _family_of(name, families)
        if f is None or f.type is None:
            raise PromError("%s: sample %s has no # TYPE before it" % (where, name))
        if f.name != current:
            if f.name in closed:
                raise PromError("%s: samples of %s are not together" % (where, f.name))
            if current is not None:
                closed.add(current)
            current = f.name
            order.append(f.name)
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            raise PromError("%s: duplicate series %s%s" % (where, name, labels))
        series.add(key)
        if f.type == "histogram":
            suffix = name[len(f.name):]
            if suffix not in ("_bucket", "_sum", "_count"):
                raise PromError("%s: %s is not a histogram sample name" % (where, name))
            if (suffix == "_bucket") != ("le" in labels):
                raise PromError("%s: `le` belongs on _bucket samples only" % where)
        elif name != f.name:
            raise PromError("%s: %s in family %s" % (where, name, f.name))
        elif "le" in labels and f.type != "summary":
            raise PromError("%s: `le` label outside a histogram" % where)
        if f.type == "counter" and not (value >= 0):
            raise PromError("%s: counter %s is %r" % (where, name, value))
        f.samples.append((name, labels, value))
    for f in families.values():
        if f.type is None:
            raise PromError("family %s has HELP but no TYPE" % f.name)
        if strict and f.type == "counter" and not f.name.endswith("_total"):
            raise PromError("counter %s does not end in _total" % f.name)
        if f.type == "histogram":
            _check_histogram(f)
    return families


def _check_histogram(f):
    groups = {}
    for name, labels, value in f.samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        suffix = name[len(f.name):]
        if suffix == "_bucket":
            g["buckets"].append((parse_float(labels["le"], f.name + " le"), value))
        elif suffix == "_sum":
            g["sum"] = value
        else:
            g["count"] = value
    for rest, g in groups.items():
        what = "%s%s" % (f.name, dict(rest))
        if g["sum"] is None or g["count"] is None:
            raise PromError("%s: _sum or _count missing" % what)
        b = sorted(g["buckets"])
        if not b or b[-1][0] != math.inf:
            raise PromError("%s: no +Inf bucket" % what)
        for (le1, c1), (le2, c2) in zip(b, b[1:]):
            if le1 == le2:
                raise PromError("%s: le=%s twice" % (what, le1))
            if c2 < c1:
                raise PromError("%s: bucket le=%s (%s) < le=%s (%s): not cumulative"
                                % (what, le2, c2, le1, c1))
        if b[-1][1] != g["count"]:
            raise PromError("%s: +Inf bucket %s != _count %s" % (what, b[-1][1], g["count"]))
        if g["sum"] < 0 or math.isnan(g["sum"]):
            raise PromError("%s: _sum is %s" % (what, g["sum"]))


def value(families, name, **labels):
    """The value of the one sample `name` whose labels include `labels`; None when absent."""
    f = _family_of(name, families)
    if f is None:
        return None
    found = [v for n, lb, v in f.samples
             if n == name and all(lb.get(k) == str(x) for k, x in labels.items())]
    if not found:
        return None
    if len(found) > 1:
        raise AssertionError("%s%s matches %d series" % (name, labels, len(found)))
    return found[0]


def histogram(families, name, **labels):
    """{"buckets": [(le, count)...] sorted, "sum": s, "count": c} of one histogram series."""
    f = families[name]
    out = {"buckets": [], "sum": None, "count": None}
    for n, lb, v in f.samples:
        rest = {k: x for k, x in lb.items() if k != "le"}
        if rest != {k: str(x) for k, x in labels.items()}:
            continue
        if n.endswith("_bucket"):
            out["buckets"].append((parse_float(lb["le"], n), v))
        elif n.endswith("_sum"):
            out["sum"] = v
        elif n.endswith("_count"):
            out["count"] = v
    out["buckets"].sort()
    return out
