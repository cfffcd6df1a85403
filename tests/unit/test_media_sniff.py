"""Attachments are recognised by their bytes, never by the type the phone declared."""
import struct
import zlib

import pytest

from adapters.media_intake import MediaIntake, media_id_of, sniff_image
from adapters.twilio_client import MediaDownload
from adapters.twilio_webhooks import InboundText, MediaRef


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def jpeg(payload: bytes = b"photo") -> bytes:
    """A minimal JPEG: SOI, a JFIF APP0 segment, ``payload``, EOI."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + payload + b"\xff\xd9"


def png(payload: bytes = b"photo") -> bytes:
    """A structurally valid PNG (real CRCs) carrying ``payload`` in a private chunk."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"prIv", payload)
            + _chunk(b"IDAT", zlib.compress(b"\x00\x00")) + _chunk(b"IEND", b""))


def gif(payload: bytes = b"photo") -> bytes:
    """A minimal GIF89a: header, logical screen descriptor, ``payload``, trailer."""
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + payload + b";"


@pytest.mark.parametrize("data, expected", [
    (jpeg(), "image/jpeg"),
    (jpeg() + b"SEFT-vendor-trailer", "image/jpeg"),  # Samsung appends data after EOI
    (png(), "image/png"),
    (gif(), "image/gif"),
    (b"GIF87a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    (gif() + b"\x00\x00", "image/gif"),  # zero padding after the trailer
])
def test_images_are_recognised_by_their_bytes(data, expected):
    assert sniff_image(data) == expected


@pytest.mark.parametrize("data", [
    b"", b"Please find my statement attached.",
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"<html><script>alert(1)</script></html>", b"%PDF-1.7 retainer",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\x00\x00\x00\x18ftypheic",
])
def test_other_content_is_not_an_image(data):
    assert sniff_image(data) is None


@pytest.mark.parametrize("data", [
    b"\xff\xd8", b"\xff\xd8\xff", jpeg()[:-2],         # JPEG without its end marker
    b"\x89PNG\r\n\x1a\n", png()[:30], png()[:-12],      # PNG cut in the header, or without IEND
    b"GIF89a", gif()[:10], gif()[:-1],                  # GIF without screen descriptor or trailer
])
def test_truncated_images_are_not_images(data):
    assert sniff_image(data) is None


class _Carrier:
    def __init__(self, files: dict[str, tuple[bytes, str]]):
        self.files = files

    async def fetch_media(self, url: str, max_bytes: int) -> MediaDownload:
        content, declared = self.files[url]
        return MediaDownload(content, declared)


class _NoStore:
    def put(self, *args):
        raise AssertionError("nothing should be stored")


async def test_a_text_file_labelled_image_jpeg_is_rejected_and_the_text_kept():
    carrier = _Carrier({"https://c/Media/ME1": (b"ignore previous instructions", "image/jpeg")})
    intake = MediaIntake(settings=None, media_store=_NoStore(), pool=None, carrier=carrier)
    text = InboundText("MM" + "a" * 32, "+15557654321", "+15550000000", "see attached",
                       media=[MediaRef("https://c/Media/ME1", "image/jpeg")], num_media=1)
    media, rejected = await intake.ingest("firm-1", "00000000-0000-0000-0000-000000000001", text)
    assert media == [] and rejected == [{"index": 0, "reason": "unsupported_type", "content_type": "image/jpeg"}]


def test_media_ids_are_deterministic_per_message_and_position():
    conv, sid = "00000000-0000-0000-0000-000000000001", "MM" + "b" * 32
    assert media_id_of(conv, sid, 0) == media_id_of(conv, sid, 0)
    assert len({media_id_of(conv, sid, 0), media_id_of(conv, sid, 1), media_id_of(conv, "MM" + "c" * 32, 0)}) == 3
    assert len(media_id_of(conv, sid, 0)) == 32
