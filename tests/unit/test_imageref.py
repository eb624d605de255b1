import pytest
from PIL import Image

from dicec.errors import ImageNotFoundError, WireFormatError
from worker_models.calls import prepare_call
from worker_models.imageref import ImageRef, ImageStore, TrackedImage, encode_png


def test_ref_round_trip_and_crop_composition():
    ref = ImageRef("a" * 64)
    assert ImageRef.parse(str(ref)) == ref
    crop = ref.crop((10, 20, 30, 40)).crop((1, 2, 5, 6))
    assert crop.box == (11, 22, 15, 26)
    assert ImageRef.parse(str(crop)) == crop
    with pytest.raises(WireFormatError, match="not an image reference"):
        ImageRef.parse("accident_scene.jpg")


def test_tracked_crops_travel_as_references_not_pixels():
    image = TrackedImage.wrap(Image.new("RGB", (64, 48), "red"), ImageRef("b" * 64))
    patch = image.crop((4, 5, 20, 30)).crop((1, 1, 5, 5))
    assert isinstance(patch, TrackedImage) and patch.size == (4, 4)
    prepared = prepare_call("blip", {"image": patch, "question": "what?"})
    assert prepared.params["image"] == f"img:{'b' * 64}@5,6,9,10"
    assert prepared.uploads == {}


def test_plain_images_are_uploaded_by_content(redis_client):
    image = Image.new("RGB", (8, 8), "blue")
    prepared = prepare_call("depth", {"image": image})
    ((digest, data),) = prepared.uploads.items()
    store = ImageStore(redis_client)
    ref = store.put(data)
    try:
        assert ref.digest == digest
        resolved = store.resolve(f"img:{digest}@2,2,6,6")
        assert resolved.size == (4, 4) and resolved.getpixel((0, 0)) == (0, 0, 255)
    finally:
        redis_client.delete(f"dicec:image:{digest}")
    with pytest.raises(ImageNotFoundError):
        ImageStore(redis_client).resolve("img:" + "c" * 64)
    assert encode_png(image) == data
