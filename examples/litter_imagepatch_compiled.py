# Distributed form of litter_imagepatch_serial.py
# made by `dicec codegen distribute` (deterministic compiler). Independent calls run
# together with asyncio.gather; the calls made and the printed output are those of the
# serial program, in the same order.
# Notes (line numbers are the serial program's):
# - execute_command: ImagePatch model calls awaited via their *_async twins
import asyncio


async def execute_command(image):
    image_patch = ImagePatch(image)
    litter_patches = await image_patch.find_async("litter")
    if not litter_patches:
        return "No litter found in the image."
    _compute_depth_results = await asyncio.gather(
        *[patch.compute_depth_async() for patch in litter_patches]
    )
    closest_litter_patch = min(
        zip(_compute_depth_results, litter_patches), key=lambda pair: pair[0]
    )[1]
    closest_depth = await closest_litter_patch.compute_depth_async()
    if closest_depth < 5:
        object_name, material = await asyncio.gather(
            closest_litter_patch.simple_query_async("What is this?"),
            closest_litter_patch.simple_query_async("What material is this made of?"),
        )
        return f"Object: {object_name}, Material: {material}, Depth: {closest_depth} meters"
    else:
        return "No litter found within five meters of depth."
