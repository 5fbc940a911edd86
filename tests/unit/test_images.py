import io

import numpy as np
import pytest
from PIL import Image

from morph_core.data import images
from morph_core.data.images import decode_image, load_image
from morph_core.errors import ImageError
from tests.unit.cutouts import galaxy_jpeg


def test_colour_jpeg_to_grey_and_rgb(tmp_path):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (30, 20), (200, 100, 50)).save(path)
    grey = load_image(path)
    rgb = load_image(path, channels=3)
    assert grey.shape == (20, 30) and grey.dtype == np.uint8
    assert rgb.shape == (20, 30, 3) and abs(int(rgb[0, 0, 0]) - 200) < 5


def test_16_bit_image_is_stretched_to_full_range(tmp_path):
    path = tmp_path / "deep.png"
    ramp = np.linspace(1000, 3000, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(path)
    grey = load_image(path)
    assert grey.min() == 0 and grey.max() == 255
    assert load_image(path, channels=3).shape == (64, 64, 3)


def test_cmyk_and_rgba_become_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    assert load_image(tmp_path / "c.jpg", 3)[0, 0, 0] > 200  # CMYK red stays red
    Image.new("RGBA", (8, 8), (255, 255, 255, 0)).save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png", 3).max() == 0  # transparent over black sky


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"hello", "not an image")],
)
def test_bad_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_truncated_and_missing(tmp_path):
    path = tmp_path / "a.jpg"
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ImageError, match="unreadable image"):
        load_image(path)
    with pytest.raises(ImageError, match="missing file"):
        load_image(tmp_path / "absent.jpg")


def test_huge_images_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (100, 100)).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 5000)
    with pytest.raises(ImageError, match="image too large"):
        load_image(path)


def test_public_upload_limits_are_checked_from_the_header(tmp_path):
    from morph_core.access import PUBLIC_LIMITS as limits

    def png(image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    checks = dict(
        max_bytes=limits.upload_bytes,
        max_pixels=limits.upload_pixels,
        max_bits=limits.upload_bits,
    )
    huge = png(Image.new("L", (6400, 6400)))  # 41 MP of zeros: a tiny file
    assert len(huge) < 200_000
    with pytest.raises(ImageError, match="image too large .* 4 megapixels"):
        decode_image(huge, 1, "bomb.png", **checks)
    deep = png(Image.fromarray(np.zeros((64, 64), dtype=np.uint16)))
    with pytest.raises(ImageError, match="more than 8 bits"):
        decode_image(deep, 1, "deep.png", **checks)
    with pytest.raises(ImageError, match="file too large"):
        decode_image(b"x" * (limits.upload_bytes + 1), 1, "big.png", **checks)
    assert decode_image(deep, 1, "deep.png").shape == (64, 64)  # locally fine


def test_a_large_jpeg_upload_is_decoded_at_a_reduced_scale():
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1600), (30, 60, 90)).save(buffer, format="JPEG")
    image = decode_image(buffer.getvalue(), 3, "big.jpg", draft=384)
    assert 384 <= image.shape[0] < 1600


def test_a_cutout_for_a_small_encoder_is_decoded_at_a_reduced_scale(tmp_path):
    path = tmp_path / "cutout.jpg"
    galaxy_jpeg(path)
    full = load_image(path)
    grey = load_image(path, draft=128)  # 1/2 scale: 212 px, luminance only
    rgb = load_image(path, 3, draft=128)
    assert grey.shape == (212, 212) and rgb.shape == (212, 212, 3)
    shrunk = np.asarray(Image.fromarray(full).resize((212, 212), Image.BILINEAR))
    assert np.abs(grey.astype(int) - shrunk).mean() < 2  # grey levels
    assert load_image(path, draft=300).shape == (424, 424)  # 1/2 would be too small
    png = tmp_path / "cutout.png"
    Image.open(path).save(png)
    assert load_image(png, draft=128).shape == (424, 424)  # only JPEGs have drafts
