#!/usr/bin/env python3
"""Embed a text file (a page's script) in C as one NUL-terminated array:
embed_text.py INPUT OUTPUT.c NAME."""
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write(f"/* Generated from {src.split('/')[-1]} by tools/embed_text.py. */\n")
    f.write(f"const char {name}[] = {{\n")
    for i in range(0, len(data), 16):
        f.write("\t" + ", ".join(str(b) for b in data[i:i + 16]) + ",\n")
    f.write("\t0\n};\n")
