"""``data.chosen_photo``: notebook 00's photo of the student's own choosing (upload, else a path, else a sample)."""
from __future__ import annotations

import io

import ipywidgets
import numpy as np
import pytest
from PIL import Image

from nsthelpers import data
from nsthelpers.images import ImageLoadError


def jpeg_bytes(width: int, height: int, colour=(200, 30, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_nothing_chosen_gives_the_sample_photo():
    photo, name = data.chosen_photo(ipywidgets.FileUpload(), "", default="coffee", max_size=64)
    assert name == "coffee (sample photo)"
    assert photo.shape[:2] == (1, 3) and max(photo.shape[-2:]) == 64
    assert np.allclose(photo.numpy(), data.content_photo("coffee", max_size=64).numpy())


def test_a_path_is_used_when_nothing_is_uploaded(tmp_path):
    file = tmp_path / "mine.png"
    Image.new("RGB", (90, 30), (0, 0, 255)).save(file)
    photo, name = data.chosen_photo(None, file, max_size=45)
    assert name == "mine.png" and tuple(photo.shape) == (1, 3, 15, 45)
    assert photo[0, 2].min() > 0.99 and photo[0, 0].max() < 0.01           # blue, as saved
    with pytest.raises(FileNotFoundError, match="check the path"):
        data.chosen_photo(None, tmp_path / "missing.jpg")


def test_the_last_upload_wins_over_the_path(tmp_path):
    file = tmp_path / "mine.png"
    Image.new("RGB", (10, 10)).save(file)
    uploaded = ({"name": "first.jpg", "content": memoryview(jpeg_bytes(20, 20))},
                {"name": "holiday.jpg", "content": memoryview(jpeg_bytes(80, 40))})   # what FileUpload.value holds
    photo, name = data.chosen_photo(uploaded, file, max_size=40)
    assert name == "holiday.jpg" and tuple(photo.shape) == (1, 3, 20, 40)
    assert abs(float(photo[0, 0].mean()) - 200 / 255) < 0.05               # the uploaded picture's red

    class Upload:                                                           # a widget: its .value is read
        value = uploaded[:1]
    assert data.chosen_photo(Upload())[1] == "first.jpg"


def test_an_upload_that_is_not_an_image_names_the_file_and_the_fix():
    with pytest.raises(ImageLoadError, match=r"'notes.heic'.*JPEG or PNG"):
        data.chosen_photo([{"name": "notes.heic", "content": b"not an image at all"}])
