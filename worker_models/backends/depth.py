"""`depth`: monocular depth (DPT / Depth Anything), summarised as median, min and max.

Loaded through `AutoModelForDepthEstimation`. Metric checkpoints (Depth Anything with
`depth_estimation_type="metric"`) predict metres, used as they are. Relative ones (DPT,
MiDaS, Depth Anything "relative") predict inverse depth (disparity) of unknown scale; it
is mapped to metres as `disparity_at_1m / disparity` (DICEC_DEPTH_DISPARITY_AT_1M, the
camera's calibration; DISPARITY_AT_1M by default), clipped to [MIN_DEPTH_M, MAX_DEPTH_M]:
larger disparity means nearer, and the same disparity means the same distance in every
image, so depths compare across images and crops. The statistics are
taken over the model's output map (its input resolution), not resampled to the image,
and rounded to 4 significant digits (so batch-shape float noise cannot show).
"""

from __future__ import annotations

import torch
from PIL import Image

from worker_models.backends.common import (
    load_model,
    load_processor,
    model_inputs,
    pixel_groups,
    significant,
)
from worker_models.catalogue import DepthResult, Params, Result

DISPARITY_AT_1M = 1.0  # disparity the mapping reads as one metre (relative models)
MIN_DEPTH_M = 0.1
MAX_DEPTH_M = 1000.0


def to_metres(
    prediction: torch.Tensor, metric: bool, disparity_at_1m: float = DISPARITY_AT_1M
) -> torch.Tensor:
    if metric:
        return prediction.clamp(MIN_DEPTH_M, MAX_DEPTH_M)
    disparity = prediction.clamp_min(disparity_at_1m / MAX_DEPTH_M)
    return (disparity_at_1m / disparity).clamp(MIN_DEPTH_M, MAX_DEPTH_M)


class DepthBackend:
    function = "depth"

    def __init__(
        self, checkpoint: str, device: str = "cpu", disparity_at_1m: float = DISPARITY_AT_1M
    ) -> None:
        from transformers import AutoModelForDepthEstimation

        self.checkpoint = checkpoint
        self.device = device
        self.disparity_at_1m = disparity_at_1m
        self.model = load_model(AutoModelForDepthEstimation, checkpoint, device)
        self.processor = load_processor(checkpoint)
        kind = getattr(self.model.config, "depth_estimation_type", "relative")
        self.metric = kind == "metric"

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        rgb = model_inputs(self.function, images, self.processor)
        results: list[Result | None] = [None] * len(rgb)
        for indices, pixels in pixel_groups(self.processor, rgb):
            with torch.inference_mode():
                predicted = self.model(pixel_values=pixels.to(self.device)).predicted_depth
            metres = to_metres(predicted.float(), self.metric, self.disparity_at_1m).flatten(1)
            for row, i in enumerate(indices):
                values = metres[row]
                results[i] = DepthResult(
                    depth=significant(values.median().item()),
                    min_depth=significant(values.min().item()),
                    max_depth=significant(values.max().item()),
                )
        return [r for r in results if r is not None]
