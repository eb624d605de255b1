"""Synthetic accident-scene images for the claims demo (seeded drawings, made offline).

They stand in for the paper's 30 photos so that the main job has input on a fresh
machine: a road, a sky, one to four cars (some tilted as if overturned, some with
damage marks). They are drawings: a real detector would find cars in them, the small
random-weight checkpoints find nothing meaningful.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

DEFAULT_COUNT = 30
IMAGE_SIZE = (320, 240)
CAR_COLOURS = [
    (200, 30, 30),
    (30, 60, 200),
    (240, 240, 240),
    (20, 20, 20),
    (200, 200, 40),
    (120, 120, 130),
    (30, 140, 60),
]


def _draw_car(canvas: Image.Image, rng: random.Random) -> None:
    w, h = rng.randint(60, 110), rng.randint(30, 50)
    car = Image.new("RGBA", (w, h + 12), (0, 0, 0, 0))
    d = ImageDraw.Draw(car)
    colour = rng.choice(CAR_COLOURS)
    d.rounded_rectangle((0, 10, w - 1, h), radius=6, fill=colour)
    d.rectangle((w * 0.25, 0, w * 0.7, 14), fill=colour)
    d.rectangle((w * 0.3, 3, w * 0.65, 11), fill=(150, 200, 230))
    for cx in (w * 0.2, w * 0.8):
        d.ellipse((cx - 7, h - 6, cx + 7, h + 8), fill=(15, 15, 15))
    if rng.random() < 0.5:  # damage: dents and scratches
        for _ in range(rng.randint(2, 6)):
            x, y = rng.uniform(0, w), rng.uniform(12, h)
            d.line(
                (x, y, x + rng.uniform(-12, 12), y + rng.uniform(-8, 8)), fill=(60, 40, 30), width=2
            )
    angle = rng.choice([0, 0, 0, rng.uniform(-25, 25), 180, 90])  # some overturned
    car = car.rotate(angle, expand=True)
    x = rng.randint(0, canvas.width - car.width)
    y = rng.randint(canvas.height // 3, canvas.height - car.height)
    canvas.paste(car, (x, y), car)


def make_scene(rng: random.Random) -> Image.Image:
    img = Image.new("RGB", IMAGE_SIZE, (110, 170, 230))
    d = ImageDraw.Draw(img)
    horizon = rng.randint(70, 110)
    d.rectangle((0, horizon, IMAGE_SIZE[0], IMAGE_SIZE[1]), fill=(80, 80, 85))
    for x in range(0, IMAGE_SIZE[0], 40):
        d.rectangle((x, horizon + 60, x + 20, horizon + 64), fill=(230, 230, 230))
    for _ in range(rng.randint(1, 4)):
        _draw_car(img, rng)
    return img


def generate_claims_images(out_dir: Path, count: int = DEFAULT_COUNT, seed: int = 0) -> list[Path]:
    """Write `count` scenes as JPEG files (accident_00.jpg ...); same seed, same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        path = out_dir / f"accident_{i:02d}.jpg"
        make_scene(rng).save(path, format="JPEG", quality=90)
        paths.append(path)
    return paths
