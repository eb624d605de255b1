# Bench program: the claims program (examples/claims_distributed.py) with fixed crop
# boxes, so that the work per call never depends on what a random-weight detector
# returns. glip is still called (its result is not used): 13 calls a task.
import asyncio
import hermod
from PIL import Image

CAR_BOXES = [(20, 120, 120, 170), (110, 130, 210, 180), (200, 110, 300, 165)]


async def get_car_details(car_patch, index):
    color, model, damaged, overturned = await asyncio.gather(
        hermod.call("blip", image=car_patch, question="What is the color of the car?"),
        hermod.call("blip", image=car_patch, question="What is the model of the car?"),
        hermod.call("xvlm", image=car_patch, object_name="car", property="damaged"),
        hermod.call("xvlm", image=car_patch, object_name="car", property="overturned"),
    )
    return (f"Car {index + 1}: Color - {color['answer']}, Model - {model['answer']}, "
            f"Damaged - {damaged['result']}, Overturned - {overturned['result']}")


async def execute_query(image_filename):
    image = Image.open(image_filename)
    await hermod.call("glip", image=image, object_name="car")
    patches = [image.crop(box) for box in CAR_BOXES]
    for line in await asyncio.gather(*(get_car_details(p, i) for i, p in enumerate(patches))):
        print(line)


image_filename = "accident_scene.jpg"
asyncio.run(execute_query(image_filename))
