"""Checking a drawn signature and a typed name before either is stored."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

from mesoclinic.catalogue.models import normalise_name

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URL_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 1_000_000
MAX_SIDE = 4000
# A signature leaves at least this much ink, across at least this many pixels: a tap or a
# stray touch leaves less, and is refused as empty.
MIN_INK_PIXELS = 60
MIN_INK_SPAN = 40
# A pixel is ink when it is mostly opaque and dark (the pad draws dark ink on a transparent
# or white ground).
INK_ALPHA = 64
INK_LIGHTNESS = 160

EMPTY_SIGNATURE = "The signature is empty: ask the patient to sign in the box, then sign again."


def png_from_data_url(value: str) -> bytes:
    """The PNG a signature pad sends as a data URL ("data:image/png;base64,...")."""
    value = value.strip()
    if not value:
        raise ValidationError(EMPTY_SIGNATURE)
    if not value.startswith(DATA_URL_PREFIX):
        raise ValidationError("The signature must be sent as a PNG image (data:image/png).")
    encoded = value[len(DATA_URL_PREFIX) :]
    if len(encoded) > MAX_SIGNATURE_BYTES * 4 // 3 + 4:
        raise ValidationError("The signature image is too large.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("The signature image is not valid base64.") from None


def check_drawn(png: bytes) -> None:
    """Refuse anything but a PNG of a reasonable size holding a real stroke of ink."""
    if not png:
        raise ValidationError(EMPTY_SIGNATURE)
    if len(png) > MAX_SIGNATURE_BYTES:
        raise ValidationError("The signature image is too large.")
    if not png.startswith(PNG_MAGIC):
        raise ValidationError("The signature must be a PNG image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png)) as image:
                if image.format != "PNG":
                    raise ValidationError("The signature must be a PNG image.")
                width, height = image.size
                if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
                    raise ValidationError("The signature image has an unusable size.")
                rgba = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombWarning):
        raise ValidationError("The signature image cannot be read.") from None
    ink = _ink_mask(rgba)
    box = ink.getbbox()
    count = ink.histogram()[255]
    if box is None or count < MIN_INK_PIXELS:
        raise ValidationError(EMPTY_SIGNATURE)
    left, top, right, bottom = box
    if max(right - left, bottom - top) < MIN_INK_SPAN:
        raise ValidationError(EMPTY_SIGNATURE)


def _ink_mask(rgba: Image.Image) -> Image.Image:
    """A black-and-white mask (255 = ink) of the opaque, dark pixels."""
    alpha = rgba.getchannel("A").point(lambda a: 255 if a >= INK_ALPHA else 0)
    dark = rgba.convert("L").point(lambda v: 255 if v < INK_LIGHTNESS else 0)
    # Where a pixel is transparent, "L" reads its (black) colour: only opaque dark counts.
    return Image.composite(dark, Image.new("L", rgba.size, 0), alpha)


def comparable_name(name: str) -> str:
    """A name as typed compared without case, accents, hyphens or apostrophes."""
    return normalise_name(re.sub(r"[-'\u2019.,]", " ", name))


def name_matches(typed: str, given_name: str, family_name: str) -> bool:
    """The typed name is the patient's: given then family name, or family then given."""
    typed_form = comparable_name(typed)
    return bool(typed_form) and typed_form in {
        comparable_name(f"{given_name} {family_name}"),
        comparable_name(f"{family_name} {given_name}"),
    }
