"""What every benchmark summary shares: results grouped by mode, and the "median (min–max)" cell."""
import json
import statistics


def cell(values, digits=1):
    """`median (min–max)` of `values`, or a dash when there are none."""
    if not values:
        return "—"
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


class Rounds:
    """The results of a scenario's rounds, grouped by their `mode`, read from JSON files (one
    object per file, or one per line). Negative numbers mean "not measured" and are left out."""

    def __init__(self, paths):
        self.by_mode = {}
        for path in paths:
            for line in open(path):
                if line.strip():
                    result = json.loads(line)
                    self.by_mode.setdefault(result["mode"], []).append(result)

    def values(self, mode, key, scale=1):
        return [r[key] / scale for r in self.by_mode.get(mode, []) if r.get(key) is not None and r[key] >= 0]

    def median(self, mode, key):
        found = self.values(mode, key)
        return statistics.median(found) if found else float("nan")

    def cell(self, mode, key, digits=1, scale=1):
        return cell(self.values(mode, key, scale), digits)

    def count(self, mode):
        return len(self.by_mode.get(mode, []))
