# shape: loop over detections
# minimal-rounds: 2
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    cars = await hermod.call("glip", image=image, object_name="car")
    if not cars:
        print("No cars detected in the image.")
        return
    for i, b in enumerate(cars):
        car_patch = image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]))
        color = await hermod.call("blip", image=car_patch, question="What is the color of the car?")
        damaged = await hermod.call("xvlm", image=car_patch, object_name="car", property="damaged")
        print(f"Car {i + 1}: {color.get('answer', 'Unknown')} {damaged.get('result', False)}")
