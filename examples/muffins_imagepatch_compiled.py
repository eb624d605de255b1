# Distributed form of muffins_imagepatch_serial.py
# made by `dicec codegen distribute` (deterministic compiler). Independent calls run
# together with asyncio.gather; the calls made and the printed output are those of the
# serial program, in the same order.
# Notes (line numbers are the serial program's):
# - execute_command: ImagePatch model calls awaited via their *_async twins
import asyncio


async def execute_command(image):
    image_patch = ImagePatch(image)
    muffin_patches, kid_patches = await asyncio.gather(
        image_patch.find_async("muffin"), image_patch.find_async("kid")
    )
    return str(len(muffin_patches) // len(kid_patches))
