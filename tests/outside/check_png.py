"""Check that a screenshot of the run report is not blank: decode the PNG with pypng and count the pixels
that are not white and the distinct colours (text, table lines and the charts' bar colours).

    python tests/outside/check_png.py SCREENSHOT.png
"""
import sys

import png

MIN_INK = 0.01       # at least 1 % of the page is not white
MIN_COLOURS = 8      # the charts use several fill colours besides black, grey and white
MIN_SATURATED = 2000 # pixels of clearly coloured (not grey) ink: the bars


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    width, height, rows, info = png.Reader(filename=sys.argv[1]).asRGBA8()
    ink = saturated = 0
    colours = set()
    for row in rows:
        for i in range(0, len(row), 4):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if r < 245 or g < 245 or b < 245:
                ink += 1
                colours.add((r >> 3, g >> 3, b >> 3))
                if max(r, g, b) - min(r, g, b) > 60:
                    saturated += 1
    total = width * height
    print(f"screenshot {width}x{height}: {ink / total:.1%} ink, {len(colours)} colours, {saturated} coloured pixels")
    problems = []
    if ink < MIN_INK * total:
        problems.append(f"expected at least {MIN_INK:.0%} non-white pixels, found {ink / total:.2%}")
    if len(colours) < MIN_COLOURS:
        problems.append(f"expected at least {MIN_COLOURS} distinct colours, found {len(colours)}")
    if saturated < MIN_SATURATED:
        problems.append(f"expected at least {MIN_SATURATED} coloured (chart) pixels, found {saturated}")
    if problems:
        for p in problems:
            print("FAIL", p)
        sys.exit(1)
    print("report screenshot OK")


if __name__ == "__main__":
    main()
