"""Draw the app icons (static/icons/*.png). Run once; the PNGs are committed."""

import os

from PIL import Image, ImageDraw, ImageFont

GREEN = (11, 110, 79)
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
OUT = os.path.join(os.path.dirname(__file__), "..", "static", "icons")


def draw(size: int, maskable: bool) -> Image.Image:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0) if not maskable else GREEN + (255,))
    d = ImageDraw.Draw(img)
    if not maskable:
        d.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 6, fill=GREEN)
    # The safe zone of a maskable icon is the central 80 % circle: keep the glyph inside it.
    inner = size * (0.56 if maskable else 0.7)
    step = inner / 4
    x0 = y0 = (size - inner) / 2
    for i in range(5):  # a 4x4 grid, the patrol grid
        d.line(
            [(x0 + i * step, y0), (x0 + i * step, y0 + inner)],
            fill=(255, 255, 255, 110),
            width=max(1, size // 96),
        )
        d.line(
            [(x0, y0 + i * step), (x0 + inner, y0 + i * step)],
            fill=(255, 255, 255, 110),
            width=max(1, size // 96),
        )
    font = ImageFont.truetype(FONT, int(inner * 0.42), index=2)
    d.text((size / 2, size / 2), "巡查", font=font, fill="white", anchor="mm")
    return img


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    draw(192, False).save(os.path.join(OUT, "icon-192.png"), optimize=True)
    draw(512, False).save(os.path.join(OUT, "icon-512.png"), optimize=True)
    draw(512, True).save(os.path.join(OUT, "icon-maskable-512.png"), optimize=True)
