"""A detector box 1 px wide: what one call costs, against a normal crop, side by side.

    .venv/bin/python bench/degenerate_box.py [--repeats 5]

With random weights the glip backend returned boxes 1 px wide; CLIP's processor (xvlm)
then upscaled each crop to 224 x 53,760 px. The worker now clamps crops to a minimum
side and bounds what a processor is handed (worker_models.backends.common.bounded_input).
Printed: CPU ms per xvlm call on the 224-px checkpoint for a normal crop, for the 1-px
crop as served now, and for the same crop handed to the processor unbounded (as before).
"""

from __future__ import annotations

import argparse

from _workload import MS_PER_S, best_cpu_s, ensure_workload, settings_224
from PIL import Image

TARGET_RATIO = 2.0
SCENE_PX = (320, 240)  # the claims images' size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    from worker_models.catalogue import get_spec
    from worker_models.imageref import ImageRef, TrackedImage
    from worker_models.loading import load_backend

    ensure_workload(Path(tempfile.mkdtemp(prefix="dicec-degenerate-")))
    backend = load_backend("xvlm", settings_224())
    scene = TrackedImage.wrap(Image.new("RGB", SCENE_PX, "grey"), ImageRef("0" * 64))
    crops = {
        "normal crop 100x50": scene.crop((110, 130, 210, 180)),
        "1-px box, served now": scene.crop((150, 0, 151, 240)),
        "1-px box, unbounded (before)": Image.new("RGB", (1, 240), "grey"),
    }
    spec = get_spec("xvlm")
    call = spec.params.model_validate({"image": "x", "object_name": "car", "property": "red"})
    unbounded = crops["1-px box, unbounded (before)"]

    def before() -> object:  # what the backend did before: the processor sees the raw crop
        inputs = backend.processor(images=[unbounded], text=["a", "b"], return_tensors="pt")
        return backend.model(**inputs)

    cost_ms = {}
    for name, crop in crops.items():
        run = before if crop is unbounded else (lambda c=crop: backend.run_batch([call], [c]))
        run()
        cost_ms[name] = best_cpu_s(run, args.repeats) * MS_PER_S
    normal = cost_ms["normal crop 100x50"]
    for name, ms in cost_ms.items():
        print(f"{name:30s} {ms:8.2f} CPU-ms per call   {ms / normal:6.2f}x a normal crop")
    ratio = cost_ms["1-px box, served now"] / normal
    verdict = "MET" if ratio <= TARGET_RATIO else "not met"
    print(f"1-px box / normal crop: {ratio:.2f}   target <= {TARGET_RATIO}  {verdict}")


if __name__ == "__main__":
    main()
