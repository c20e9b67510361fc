"""Replaces one section of bench/RESULTS.md with new text, leaving the rest (other sections,
notes) as it is. Sections are delimited by `<!-- NAME -->` and `<!-- /NAME -->`; a missing
section is appended. Usage: update_results.py NAME < section.md"""
import re
import sys

name = sys.argv[1]
path = "bench/RESULTS.md"
new = sys.stdin.read().strip()
block = f"<!-- {name} -->\n{new}\n<!-- /{name} -->"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmark results\n"
pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
open(path, "w").write(text)
