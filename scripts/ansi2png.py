#!/usr/bin/env python3
"""Render a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

Used to make the README screenshot from a real session (see scripts/screenshot). Needs Pillow
and the DejaVu Sans Mono font (Debian: fonts-dejavu-core). Understands the SGR codes tmux emits:
reset, bold, dim, italic, underline, reverse, 16/256/truecolour foreground and background.
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 15
BG = (24, 26, 33)
BLOCKS = "▁▂▃▄▅▆▇█"
FG = (210, 214, 222)
BASE16 = [
    (40, 42, 54), (230, 80, 80), (80, 200, 120), (230, 190, 80),
    (90, 150, 240), (200, 120, 220), (80, 200, 210), (200, 204, 212),
    (110, 114, 130), (255, 110, 110), (110, 230, 150), (255, 220, 110),
    (130, 180, 255), (230, 150, 250), (110, 230, 240), (250, 250, 250),
]


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def parse(lines):
    """Yields rows of (char, fg, bg, bold) cells."""
    sgr = re.compile(r"\x1b\[([0-9;]*)m")
    rows = []
    fg, bg, bold, reverse, dim = None, None, False, False, False
    for line in lines:
        row = []
        pos = 0
        for m in sgr.finditer(line):
            for ch in line[pos:m.start()]:
                row.append((ch, fg, bg, bold, reverse, dim))
            pos = m.end()
            codes = [int(c) if c else 0 for c in m.group(1).split(";")]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    fg, bg, bold, reverse, dim = None, None, False, False, False
                elif c == 1:
                    bold = True
                elif c == 2:
                    dim = True
                elif c == 7:
                    reverse = True
                elif c == 22:
                    bold = dim = False
                elif c == 27:
                    reverse = False
                elif 30 <= c <= 37:
                    fg = BASE16[c - 30]
                elif 90 <= c <= 97:
                    fg = BASE16[c - 90 + 8]
                elif 40 <= c <= 47:
                    bg = BASE16[c - 40]
                elif 100 <= c <= 107:
                    bg = BASE16[c - 100 + 8]
                elif c == 39:
                    fg = None
                elif c == 49:
                    bg = None
                elif c in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 5 and i + 2 < len(codes):
                        col = xterm256(codes[i + 2])
                        i += 2
                    elif codes[i + 1] == 2 and i + 4 < len(codes):
                        col = tuple(codes[i + 2:i + 5])
                        i += 4
                    else:
                        col = None
                    if c == 38:
                        fg = col
                    else:
                        bg = col
                i += 1
        for ch in line[pos:]:
            row.append((ch, fg, bg, bold, reverse, dim))
        rows.append(row)
    return rows


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        lines = f.read().rstrip("\n").split("\n")
    rows = parse(lines)
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold_font = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    # DejaVu Sans Mono lacks a few glyphs the dashboard uses (⟳): those come from DejaVu Sans.
    fallback = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", SIZE)
    missing = bytes(regular.getmask("\uffff"))
    lacks = {}

    def font_for(c, bold):
        if c not in lacks:
            lacks[c] = bytes(regular.getmask(c)) == missing
        if lacks[c]:
            return fallback
        return bold_font if bold else regular
    cw = int(round(regular.getlength("M")))
    ch = SIZE + 4
    cols = max(len(r) for r in rows)
    pad = 12
    img = Image.new("RGB", (cols * cw + 2 * pad, len(rows) * ch + 2 * pad), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        for x, (c, fg, bg, bold, reverse, dim) in enumerate(row):
            f, b = fg or FG, bg or BG
            if reverse:
                f, b = b, f
            if dim:
                f = tuple(int(v * 0.6 + BG[i] * 0.4) for i, v in enumerate(f))
            px, py = pad + x * cw, pad + y * ch
            if b != BG:
                draw.rectangle([px, py, px + cw, py + ch], fill=b)
            if c in BLOCKS:
                # Lower block elements: draw them, fonts disagree on their metrics.
                h = ch * (BLOCKS.index(c) + 1) // 8
                draw.rectangle([px, py + ch - h, px + cw - 1, py + ch - 1], fill=f)
            elif c != " ":
                draw.text((px, py + 1), c, font=font_for(c, bold), fill=f)
    img.save(dst)


if __name__ == "__main__":
    main()
