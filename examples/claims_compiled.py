# Distributed form of claims_serial.py
# made by `dicec codegen distribute` (deterministic compiler). Independent calls run
# together with asyncio.gather; the calls made and the printed output are those of the
# serial program, in the same order.
# Notes (line numbers are the serial program's):
# - line 17: loop iterations gathered (_each_car)
import asyncio
import hermod
from PIL import Image


def _deferred_print(*args, **kwargs):
    """A print kept for later: its text now, printed after the gather in program order."""
    return ([str(arg) for arg in args], kwargs)


async def execute_query(image_filename):
    image = Image.open(image_filename)
    cars = await hermod.call("glip", image=image, object_name="car")
    if not cars:
        print("No cars detected in the image.")
        return

    async def _each_car(i, car):
        _printed = []
        try:
            car_patch = image.crop(
                (car["x"], car["y"], car["x"] + car["width"], car["y"] + car["height"])
            )
            car_color, car_model, car_damaged, car_overturned = await asyncio.gather(
                hermod.call("blip", image=car_patch, question="What is the color of the car?"),
                hermod.call("blip", image=car_patch, question="What is the model of the car?"),
                hermod.call("xvlm", image=car_patch, object_name="car", property="damaged"),
                hermod.call("xvlm", image=car_patch, object_name="car", property="overturned"),
            )
            car_info = f"Car {i + 1}: Color - {car_color.get('answer', 'Unknown')}, Model - {car_model.get('answer', 'Unknown')}, Damaged - {car_damaged.get('result', False)}, Overturned - {car_overturned.get('result', False)}"
            _printed.append(_deferred_print(car_info))
        except Exception as _error:
            return (_printed, _error)
        return (_printed, None)

    for _printed, _error in await asyncio.gather(
        *[_each_car(i, car) for i, car in enumerate(cars)]
    ):
        for _args, _kwargs in _printed:
            print(*_args, **_kwargs)
        if _error is not None:
            raise _error


image_filename = "accident_scene.jpg"
asyncio.run(execute_query(image_filename))
