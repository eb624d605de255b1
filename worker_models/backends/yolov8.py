"""`yolov8`: every object of the known classes, with a closed-set detector (YOLOS/DETR).

Loaded through `AutoModelForObjectDetection`; class names come from the checkpoint's
`id2label` (COCO names for the small checkpoint). Each detection query predicts class
probabilities (softmax, the last class meaning "no object") and a box; a query's score
is its best real class. Boxes are integer pixels, clamped, best first, capped by the
detection limits.
"""

from __future__ import annotations

import math

import torch
from PIL import Image

from worker_models.backends.common import (
    DetectionLimits,
    PixelBox,
    load_model,
    load_processor,
    pixel_box,
    pixel_groups,
    rgb_images,
    rounded,
    scaled_inputs,
)
from worker_models.catalogue import DetectedObject, Params, Result, Yolov8Result

NO_LABEL = "N/A"  # DETR/YOLOS COCO checkpoints keep unused ids under this name


class Yolov8Backend:
    function = "yolov8"

    def __init__(self, checkpoint: str, limits: DetectionLimits, device: str = "cpu") -> None:
        from transformers import AutoModelForObjectDetection

        self.checkpoint = checkpoint
        self.device = device
        self.limits = limits
        self.model = load_model(AutoModelForObjectDetection, checkpoint, device)
        self.processor = load_processor(checkpoint)
        self.labels: dict[int, str] = dict(self.model.config.id2label)

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        rgb = rgb_images(self.function, images)
        results: list[Result | None] = [None] * len(rgb)
        for indices, pixels in pixel_groups(self.processor, scaled_inputs(rgb)):
            with torch.inference_mode():
                out = self.model(pixel_values=pixels.to(self.device))
            probs = out.logits.float().softmax(-1)[..., :-1]
            scores, labels = probs.max(-1)
            for row, i in enumerate(indices):
                found = self._boxes(scores[row], labels[row], out.pred_boxes[row], rgb[i])
                results[i] = Yolov8Result(objects=found)
        return [r for r in results if r is not None]

    def _boxes(
        self, scores: torch.Tensor, labels: torch.Tensor, boxes: torch.Tensor, image: Image.Image
    ) -> list[DetectedObject]:
        size = image.size
        names = [self.labels.get(label, str(label)) for label in labels.tolist()]
        # a box of no class can never be kept: below any threshold
        rounded_scores = [
            rounded(s) if n != NO_LABEL else -math.inf
            for s, n in zip(scores.tolist(), names, strict=True)
        ]
        found = []
        for i in self.limits.candidates(rounded_scores):
            x, y, w, h = pixel_box(boxes[i].tolist(), size, size)
            found.append(PixelBox(x, y, w, h, rounded_scores[i], names[i]))
        return [
            DetectedObject(
                x=b.x, y=b.y, width=b.width, height=b.height, class_=b.label, score=b.score
            )
            for b in self.limits.select(found)
        ]
