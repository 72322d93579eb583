"""A small ESC/POS decoder: what a thermal printer would do with the kiosk's bytes.

Written independently of python-escpos so the tests check the bytes, not the
library's own idea of them. Knows the commands the ticket layout uses and
fails loudly on anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESC, GS, DLE = 0x1B, 0x1D, 0x10


@dataclass
class Line:
    text: str
    width: int = 1
    height: int = 1
    bold: bool = False
    invert: bool = False
    align: str = "left"
    font: str = "a"


@dataclass
class Ticket:
    lines: list[Line] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)
    images: int = 0
    cuts: int = 0
    status_queries: int = 0

    @property
    def texts(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.text.strip()]

    def largest(self) -> Line:
        return max(self.lines, key=lambda ln: (ln.width * ln.height, len(ln.text.strip()) > 0))


def decode(data: bytes) -> Ticket:
    """Decode one or more tickets' worth of bytes into lines, QR payloads and cuts."""
    t = Ticket()
    state = {"width": 1, "height": 1, "bold": False, "invert": False, "align": "left", "font": "a"}
    buf = bytearray()
    qr_store = b""

    def flush() -> None:
        t.lines.append(Line(buf.decode("cp437", errors="replace"), **state))
        buf.clear()

    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x0A:
            flush()
            i += 1
        elif b == ESC:
            c = data[i + 1]
            if c == ord("@"):
                i += 2
            elif c == ord("!"):  # print mode: bits 4,5 double height/width, bit 3 bold
                m = data[i + 2]
                state["height"] = 2 if m & 0x10 else 1
                state["width"] = 2 if m & 0x20 else 1
                state["bold"] = bool(m & 0x08)
                i += 3
            elif c == ord("E"):
                state["bold"] = bool(data[i + 2])
                i += 3
            elif c == ord("a"):
                state["align"] = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center",
                                  50: "right"}[data[i + 2]]
                i += 3
            elif c == ord("M"):
                state["font"] = "b" if data[i + 2] in (1, 49) else "a"
                i += 3
            elif c in (ord("-"), ord("t"), ord("{"), ord("G"), ord("V"), ord("3"), ord("c")):
                i += 3
            elif c == ord("d"):  # print and feed n lines
                if buf:
                    flush()
                i += 3
            elif c == ord("2"):
                i += 2
            else:
                raise ValueError(f"unknown ESC {c:#x} at {i}")
        elif b == GS:
            c = data[i + 1]
            if c == ord("!"):  # character size: high nibble width-1, low nibble height-1
                m = data[i + 2]
                state["width"] = (m >> 4) + 1
                state["height"] = (m & 0x0F) + 1
                i += 3
            elif c == ord("b"):  # smoothing
                i += 3
            elif c == ord("B"):
                state["invert"] = bool(data[i + 2])
                i += 3
            elif c == ord("V"):
                if buf:
                    flush()
                t.cuts += 1
                i += 3 if data[i + 2] in (0, 1, 48, 49) else 4
            elif c == ord("(") and data[i + 2] == ord("k"):
                ln = data[i + 3] | (data[i + 4] << 8)
                body = data[i + 5:i + 5 + ln]
                cn, fn = body[0], body[1]
                if cn == ord("1") and fn == 80:  # store QR data (m='0')
                    qr_store = body[3:]
                elif cn == ord("1") and fn == 81:  # print stored QR
                    t.qr.append(qr_store.decode("utf-8"))
                i += 5 + ln
            elif c == ord("(") and data[i + 2] == ord("L"):
                ln = data[i + 3] | (data[i + 4] << 8)
                t.images += 1
                i += 5 + ln
            elif c == ord("v") and data[i + 2] == ord("0"):  # raster image
                xl, xh, yl, yh = data[i + 4:i + 8]
                t.images += 1
                i += 8 + (xl + xh * 256) * (yl + yh * 256)
            else:
                raise ValueError(f"unknown GS {c:#x} at {i}")
        elif b == DLE and i + 1 < n and data[i + 1] == 0x04:
            t.status_queries += 1
            i += 3
        else:
            buf.append(b)
            i += 1
    if buf:
        flush()
    return t


def render(ticket: Ticket, width_px: int = 576):
    """Draw the decoded ticket as 80 mm paper would show it (a picture for people, not a check)."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
    bold_path = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
    cell_h = 24  # font A: 12x24 dots, font B: 9x17
    qr_iter = iter(ticket.qr)
    # place each QR code before the line that asks to scan it
    out: list = []
    for line in ticket.lines:
        if line.text.startswith(("Scan to follow", "Changanua kufuatilia")):
            payload = next(qr_iter, None)
            if payload:
                out.append(("qr", payload))
        out.append(("text", line))
    height = 40
    for kind, item in out:
        height += 300 if kind == "qr" else cell_h * item.height + 4
    img = Image.new("RGB", (width_px, height + 40), "white")
    draw = ImageDraw.Draw(img)
    y = 20
    for kind, item in out:
        if kind == "qr":
            q = qrcode.make(item, box_size=8, border=1).get_image().convert("RGB")
            q = q.resize((280, 280))
            img.paste(q, ((width_px - 280) // 2, y + 10))
            y += 300
            continue
        # font A is 12 dots wide (48 columns on 80 mm paper): DejaVu Sans Mono at 20 px has that advance
        size = (14 if item.font == "b" else 20) * item.height
        try:
            font = ImageFont.truetype(bold_path if item.bold else font_path, size)
        except OSError:
            font = ImageFont.load_default()
        text = item.text
        box = draw.textbbox((0, 0), text, font=font)
        tw = min(box[2] - box[0], width_px)
        # scale width like the printer does: width multiplier stretches characters
        x = {"center": (width_px - tw * item.width // item.height) // 2, "right": width_px - tw,
             "left": 0}[item.align] if item.height else 0
        if item.width != item.height and text.strip():
            glyphs = Image.new("RGB", (max(1, box[2]), size + 8), "white")
            ImageDraw.Draw(glyphs).text((0, 0), text, font=font, fill="black")
            glyphs = glyphs.resize((max(1, box[2] * item.width // item.height), size + 8))
            x = (width_px - glyphs.width) // 2 if item.align == "center" else 0
            img.paste(glyphs, (max(0, x), y))
        else:
            if item.invert and text.strip():
                draw.rectangle((x - 4, y, x + tw + 4, y + size + 4), fill="black")
            draw.text((max(0, x), y), text, font=font, fill="white" if item.invert else "black")
        y += (17 if item.font == "b" else cell_h) * item.height + 4
    for _ in range(ticket.cuts):
        draw.line((0, height + 20, width_px, height + 20), fill="grey", width=2)
    return img
