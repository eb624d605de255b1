# Bench program: the serial claims program (examples/claims_serial.py) with fixed crop
# boxes, as claims_fixed_distributed.py; every call awaited in turn (13 calls a task).
import asyncio
import hermod
from PIL import Image

CAR_BOXES = [(20, 120, 120, 170), (110, 130, 210, 180), (200, 110, 300, 165)]


async def execute_query(image_filename):
    image = Image.open(image_filename)
    await hermod.call("glip", image=image, object_name="car")
    for i, box in enumerate(CAR_BOXES):
        car_patch = image.crop(box)
        color = await hermod.call("blip", image=car_patch, question="What is the color of the car?")
        model = await hermod.call("blip", image=car_patch, question="What is the model of the car?")
        damaged = await hermod.call("xvlm", image=car_patch, object_name="car", property="damaged")
        overturned = await hermod.call("xvlm", image=car_patch, object_name="car",
                                       property="overturned")
        print(f"Car {i + 1}: Color - {color['answer']}, Model - {model['answer']}, "
              f"Damaged - {damaged['result']}, Overturned - {overturned['result']}")


image_filename = "accident_scene.jpg"
asyncio.run(execute_query(image_filename))
